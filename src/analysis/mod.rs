//! What the lake says: the lake's datasets as tables for SQL
//! ([`tables`]), the income effects of the prosperity communities
//! ([`effects`]), and the indicator tables ([`indicators`]), which use both;
//! [`views`] writes the same tables as SQL views for DuckDB and Spark.

pub mod effects;
pub mod indicators;
pub mod tables;
pub mod views;
