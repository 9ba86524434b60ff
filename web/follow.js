// Following one kind's job from a page section: the job the section started, the live one
// found when the page opened, or — once the followed job has ended — one of the same kind
// started elsewhere (another tab, a program). Used by the connection page (CONNECT) and the
// X-Cart store section (IMPORT_ORDERS).

import { gql, subscribe } from "./graphql.js";
import { LIVE_JOB_STATUSES } from "./ui.js";

const isLive = (j) => LIVE_JOB_STATUSES.includes(j.status);

/**
 * `updates` is a jobUpdates subscription of one kind, `query` a `job(id)` query (both with the
 * same fields). `onChange(job)` gets every change of the followed job; `onEnd(job)` once, at the
 * first report of its end. `onResync` runs after the subscription reconnected.
 */
export function followJobs({ updates, query, signal, onCleanup, onChange, onEnd, onError, onResync }) {
  let job = null;
  let ended = false;

  const accept = (j) => {
    if (signal.aborted || !j || (job && j.id !== job.id)) return;
    // An answer read before a newer live update must not roll the job back.
    if (job && Date.parse(job.updatedAt) > Date.parse(j.updatedAt)) return;
    job = j;
    onChange(j);
    if (!isLive(j) && !ended) {
      ended = true;
      onEnd(j);
    }
  };

  const refetch = async (id) => {
    try {
      const data = await gql(query, { id });
      accept(data.job);
    } catch (e) {
      if (!signal.aborted) onError(e);
    }
  };

  onCleanup(
    subscribe(updates, {}, {
      onData: (data) => {
        const j = data.jobUpdates;
        if (!job || (ended && j.id !== job.id && isLive(j))) {
          job = j;
          ended = false;
        }
        accept(j);
      },
      onResync: () => {
        if (job) refetch(job.id);
        onResync?.();
      },
    }),
  );

  return {
    /** A job this section just started; read once more, it may have moved on already. */
    start(j) {
      job = j;
      ended = false;
      accept(j);
      refetch(j.id);
    },
    /** The latest job of the kind when the page opened: followed if it is still live. */
    adopt(j) {
      if (j && isLive(j)) {
        job = j;
        ended = false;
        accept(j);
      }
    },
    /** Whether the followed job is still queued or running. */
    running() {
      return Boolean(job && isLive(job));
    },
    /** Stops following (e.g. after a reset). */
    forget() {
      job = null;
      ended = false;
    },
  };
}
