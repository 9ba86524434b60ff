//! The command line: `serve`, `sim`, `xcart-sim`, `schema` and `rotate-token` (RUNNING.md lists the commands).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::ServeConfig;

#[derive(Debug, Parser)]
#[command(
    name = "acumatica-bridge",
    version,
    about = "Keeps an online store's orders flowing into Acumatica ERP as Sales Orders"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The service: GraphQL API, admin console, job workers, embedded sled store.
    Serve(ServeConfig),
    /// The Acumatica simulator as its own HTTP server (for demos and tests).
    Sim(crate::sim::acumatica::SimArgs),
    /// `serve` and `sim` in one process, already connected, with sample orders.
    Demo(ServeConfig),
    /// The X-Cart store simulator (X-Cart 5.5+ REST API) as its own HTTP server.
    XcartSim(crate::sim::xcart::XCartSimArgs),
    /// Prints the GraphQL SDL (the content of schema.graphql).
    Schema,
    /// Makes a new admin token, stores its hash and prints it once (the old one stops working).
    RotateToken {
        #[arg(
            long,
            env = "BRIDGE_DATA_DIR",
            default_value = "./data",
            value_name = "DIR"
        )]
        data_dir: PathBuf,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Serve(config) => crate::app::serve(config).await,
            Command::Sim(args) => crate::sim::acumatica::run(args.into_config()).await,
            Command::Demo(config) => crate::demo::run(config).await,
            Command::XcartSim(args) => crate::sim::xcart::run(args.into_config()).await,
            Command::Schema => {
                print!("{}", crate::api::sdl());
                Ok(())
            }
            Command::RotateToken { data_dir } => {
                if std::env::var("BRIDGE_ADMIN_TOKEN").is_ok_and(|t| !t.is_empty()) {
                    return Err(anyhow::anyhow!(
                        "BRIDGE_ADMIN_TOKEN is set: the service uses that token, so rotate-token \
                         would change nothing; change the variable instead (or unset it, then run \
                         rotate-token)"
                    ));
                }
                crate::app::rotate_token(&data_dir).await
            }
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
