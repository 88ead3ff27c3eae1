//! Cells to typed values: one cell of one field ([`cell`]) from the
//! parsers of numbers, dates, yes/no and levels ([`value`]); a sheet's
//! header band to fields ([`header`]).

pub mod cell;
pub mod header;
pub mod value;
