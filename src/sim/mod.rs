//! Stand-ins for the outside systems, so that everything can be tested and demonstrated
//! without them. [`acumatica`] is the Acumatica simulator (`acumatica-bridge sim`).

pub mod acumatica;
