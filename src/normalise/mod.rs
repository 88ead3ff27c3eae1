//! Cells to typed values ([`value`]) and a sheet's header band to fields
//! ([`header`]).

pub mod header;
pub mod value;
