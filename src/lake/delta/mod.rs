//! Delta Lake output (`[lake] format = "delta"`).
//!
//! The lake is still built as a version folder (segments, hard-linked
//! partitions, `version.json`): that is what makes a run incremental and
//! what `query`, `indicators` and `report` read. With the Delta format each
//! run also commits every table to a Delta table under the Delta root
//! (`OUT/delta` unless `[lake] delta_root` names another place): the
//! version's files are copied in under names that carry the run that wrote
//! them, and one commit per table removes the files of the partitions the
//! run rebuilt or dropped and adds their new ones. A table whose files are
//! those of the last commit gets no commit.
//!
//! This module describes the tables (always built) and keeps
//! `.zhenxing/delta.json`, the table versions each lake version was
//! committed as (read by `status` and `rollback`); the commits themselves
//! are in [`commit`], built with the cargo feature `delta`.

// Built without the `delta` feature, the tables and their state are only
// described (a Delta lake is refused), so part of this model goes unused.
#![cfg_attr(not(feature = "delta"), allow(dead_code))]

#[cfg(feature = "delta")]
pub mod commit;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::store::{self, LakeError, Layout, VersionMeta};
use crate::config::{LakeFormat, Pipeline};

/// A table as one run wants it: its columns, partition columns and files.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub name: String,
    /// The data columns, as the files hold them (partition keys not included).
    pub schema: Schema,
    /// Partition columns and whether each is a whole number (else text).
    pub partitions: Vec<(String, bool)>,
    pub files: Vec<TableFile>,
}

/// One data file of a table.
#[derive(Debug, Clone)]
pub(crate) struct TableFile {
    /// Where the file is on this machine.
    pub local: PathBuf,
    /// Its path inside the table: `county_code=…/year=…/part-<run>.parquet`.
    pub path: String,
    /// Partition column → value.
    pub partition: Vec<(String, String)>,
    pub rows: usize,
}

/// The partition values of a lake partition directory
/// (`county_code=320612/year=2024`), with years as plain numbers.
fn partition_values(dir: &str) -> Vec<(String, String)> {
    dir.split('/')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let v = if k == "year" {
                v.parse::<i64>()
                    .map(|y| y.to_string())
                    .unwrap_or(v.to_string())
            } else {
                v.to_string()
            };
            (k.to_string(), v)
        })
        .collect()
}

fn schema_of(path: &Path) -> Result<Schema, LakeError> {
    let f = std::fs::File::open(path).map_err(|e| store::io(path, e))?;
    let s = ParquetReader::new(f)
        .schema()
        .map_err(|e| store::pq(path, e))?;
    Ok(Schema::from_arrow_schema(&s))
}

/// A dataset's columns as its files hold them: those of its first file, or
/// for a dataset without rows the columns the builder would write.
fn dataset_schema(src: &crate::config::Source, files: &[TableFile]) -> Result<Schema, LakeError> {
    if let Some(f) = files.first() {
        return schema_of(&f.local);
    }
    let path = Path::new(&src.dataset);
    let mut df =
        store::with_source_file(store::empty_frame(src)?, "").map_err(|e| store::pq(path, e))?;
    if store::has_year(src) {
        df = df.drop("year").map_err(|e| store::pq(path, e))?;
    }
    Ok(df.schema().as_ref().clone())
}

/// The tables of a lake version whose files are in `dir` (the staging
/// folder before it is published, or a kept version): every dataset, then
/// `rejects` and `warnings`.
pub(crate) fn lake_tables(
    p: &Pipeline,
    dir: &Path,
    meta: &VersionMeta,
) -> Result<Vec<Table>, LakeError> {
    let mut out = Vec::new();
    for src in &p.sources {
        let mut partitions = vec![("county_code".to_string(), false)];
        if store::has_year(src) {
            partitions.push(("year".to_string(), true));
        }
        let files: Vec<TableFile> = meta
            .datasets
            .get(&src.dataset)
            .map(|parts| {
                parts
                    .iter()
                    .map(|x| TableFile {
                        local: dir.join(&src.dataset).join(&x.dir).join("part-0.parquet"),
                        path: format!("{}/part-{}.parquet", x.dir, x.written_by),
                        partition: partition_values(&x.dir),
                        rows: x.rows,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let schema = dataset_schema(src, &files)?;
        out.push(Table {
            name: src.dataset.clone(),
            schema,
            partitions,
            files,
        });
    }
    for (name, rows) in [("rejects", meta.rejects), ("warnings", meta.warnings)] {
        let local = dir.join(name).join("part-0.parquet");
        out.push(one_file(name, local, &meta.run_id, rows)?);
    }
    Ok(out)
}

/// An unpartitioned table of one file, named by `tag` in the table.
fn one_file(name: &str, local: PathBuf, tag: &str, rows: usize) -> Result<Table, LakeError> {
    Ok(Table {
        name: name.to_string(),
        schema: schema_of(&local)?,
        partitions: Vec::new(),
        files: vec![TableFile {
            local,
            path: format!("part-{tag}.parquet"),
            partition: Vec::new(),
            rows,
        }],
    })
}

/// The indicator tables in `OUT/indicators` as Delta tables; `tag` makes
/// the names of this computation's files unique.
pub(crate) fn indicator_tables(dir: &Path, tag: &str) -> Result<Vec<Table>, LakeError> {
    let mut out = Vec::new();
    for name in ["indicators", "income_effects"] {
        let local = dir.join(format!("{name}.parquet"));
        let rows = {
            let f = std::fs::File::open(&local).map_err(|e| store::io(&local, e))?;
            ParquetReader::new(f)
                .num_rows()
                .map_err(|e| store::pq(&local, e))?
        };
        out.push(one_file(name, local, tag, rows)?);
    }
    Ok(out)
}

/// `.zhenxing/delta.json`: where the Delta tables are and which table
/// version shows which lake version.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct DeltaState {
    /// The Delta root (a folder or a URL).
    pub root: String,
    pub tables: BTreeMap<String, TableState>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct TableState {
    /// The table's latest version (its last commit, restore included).
    pub version: u64,
    /// Lake version (run id) → the table version that shows it.
    pub lake_versions: BTreeMap<String, u64>,
}

impl DeltaState {
    pub fn path(layout: &Layout) -> PathBuf {
        layout.state().join("delta.json")
    }

    /// The recorded state; none when the lake has never been committed to Delta.
    pub fn read(layout: &Layout) -> Result<Option<DeltaState>, LakeError> {
        let p = Self::path(layout);
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| LakeError::Corrupt { path: p, source: e }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(store::io(&p, e)),
        }
    }

    pub fn write(&self, layout: &Layout) -> Result<(), LakeError> {
        super::manifest::write_json(&Self::path(layout), self)
    }

    /// Records that `table` is at `version` and shows `lake_version`.
    pub fn record(&mut self, table: &str, version: u64, lake_version: &str) {
        let t = self.tables.entry(table.to_string()).or_default();
        t.version = version;
        t.lake_versions.insert(lake_version.to_string(), version);
    }

    /// Forgets lake versions no longer kept; returns, per table, the table
    /// versions still to keep (those of the kept lake versions).
    pub(crate) fn keep_only(&mut self, kept: &[String]) -> BTreeMap<String, Vec<u64>> {
        let mut out = BTreeMap::new();
        for (name, t) in self.tables.iter_mut() {
            t.lake_versions.retain(|v, _| kept.iter().any(|k| k == v));
            let mut vs: Vec<u64> = t.lake_versions.values().copied().collect();
            vs.push(t.version);
            vs.sort_unstable();
            vs.dedup();
            out.insert(name.clone(), vs);
        }
        out
    }
}

/// Where a pipeline's Delta tables go: `[lake] delta_root`, else `OUT/delta`.
pub(crate) fn root_of(p: &Pipeline, layout: &Layout) -> String {
    match &p.lake.delta_root {
        Some(r) if !r.is_empty() => r.clone(),
        _ => layout.out.join("delta").display().to_string(),
    }
}

#[cfg(feature = "delta")]
fn publisher(p: &Pipeline, layout: &Layout) -> Result<(commit::Publisher, DeltaState), LakeError> {
    let root = root_of(p, layout);
    let state = DeltaState::read(layout)?
        .filter(|s| s.root == root)
        .unwrap_or_else(|| DeltaState {
            root: root.clone(),
            tables: BTreeMap::new(),
        });
    Ok((commit::Publisher::new(&root)?, state))
}

#[cfg(not(feature = "delta"))]
fn unsupported() -> LakeError {
    LakeError::NoDelta
}

/// Commits the tables of the lake version in `dir` (one commit per table
/// that changed) and records their versions; nothing for the folder
/// format. Returns each table's version.
pub(crate) fn publish_lake(
    p: &Pipeline,
    layout: &Layout,
    dir: &Path,
    meta: &VersionMeta,
) -> Result<BTreeMap<String, u64>, LakeError> {
    publish_tables(p, layout, &meta.run_id, || lake_tables(p, dir, meta))
}

/// Commits the indicator tables written in `dir` from lake version
/// `lake_version`; nothing for the folder format.
pub(crate) fn publish_indicators(
    p: &Pipeline,
    layout: &Layout,
    dir: &Path,
    lake_version: &str,
) -> Result<BTreeMap<String, u64>, LakeError> {
    publish_tables(p, layout, lake_version, || {
        indicator_tables(dir, &store::new_run_id())
    })
}

/// The tables `tables` describes, committed when the format is Delta.
fn publish_tables(
    p: &Pipeline,
    layout: &Layout,
    lake_version: &str,
    tables: impl FnOnce() -> Result<Vec<Table>, LakeError>,
) -> Result<BTreeMap<String, u64>, LakeError> {
    if p.lake.format != LakeFormat::Delta {
        return Ok(BTreeMap::new());
    }
    #[cfg(feature = "delta")]
    {
        publish(p, layout, &tables()?, lake_version)
    }
    #[cfg(not(feature = "delta"))]
    {
        let _ = (layout, lake_version, tables);
        Err(unsupported())
    }
}

#[cfg(feature = "delta")]
fn publish(
    p: &Pipeline,
    layout: &Layout,
    tables: &[Table],
    lake_version: &str,
) -> Result<BTreeMap<String, u64>, LakeError> {
    let (publisher, mut state) = publisher(p, layout)?;
    let mut out = BTreeMap::new();
    let mut failed = None;
    for t in tables {
        match publisher.commit(t, lake_version) {
            Ok(c) => {
                state.record(&t.name, c.version, lake_version);
                out.insert(t.name.clone(), c.version);
            }
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    // the tables committed before a failure are recorded too
    state.write(layout)?;
    match failed {
        // whatever failed (a commit, reading a file, casting it), the
        // tables already committed are named
        Some(e) if !out.is_empty() => Err(LakeError::DeltaPartly {
            committed: out.keys().cloned().collect::<Vec<_>>().join(", "),
            source: Box::new(e),
        }),
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Puts every Delta table back to the version that showed lake version
/// `target` (a restore: a new commit with the old files). Returns every
/// table's version afterwards, and the tables that have no version of
/// `target` (left as they are).
pub fn rollback(
    p: &Pipeline,
    layout: &Layout,
    target: &str,
) -> Result<(BTreeMap<String, u64>, Vec<String>), LakeError> {
    if p.lake.format != LakeFormat::Delta {
        return Ok((BTreeMap::new(), Vec::new()));
    }
    #[cfg(feature = "delta")]
    {
        let (publisher, mut state) = publisher(p, layout)?;
        let mut missing = Vec::new();
        let names: Vec<String> = state.tables.keys().cloned().collect();
        for name in names {
            let Some(want) = state
                .tables
                .get(&name)
                .map(|t| t.lake_versions.get(target).copied())
            else {
                continue;
            };
            let Some(want) = want else {
                missing.push(name);
                continue;
            };
            let v = match publisher.restore(&name, want, target) {
                Ok(v) => v,
                Err(e) => {
                    state.write(layout)?;
                    return Err(e);
                }
            };
            if let Some(t) = state.tables.get_mut(&name) {
                t.version = v;
            }
        }
        state.write(layout)?;
        let versions = state
            .tables
            .iter()
            .map(|(n, t)| (n.clone(), t.version))
            .collect();
        Ok((versions, missing))
    }
    #[cfg(not(feature = "delta"))]
    {
        let _ = (layout, target);
        Err(unsupported())
    }
}

/// Deletes the Delta files that no kept lake version uses (`keep_versions`
/// is the vacuum's retention). Returns the number of files deleted.
pub fn vacuum(p: &Pipeline, layout: &Layout) -> Result<usize, LakeError> {
    if p.lake.format != LakeFormat::Delta {
        return Ok(0);
    }
    #[cfg(feature = "delta")]
    {
        let (publisher, mut state) = publisher(p, layout)?;
        let mut kept = layout.kept_versions();
        kept.extend(layout.current());
        let keep = state.keep_only(&kept);
        state.write(layout)?;
        let mut n = 0;
        for (name, versions) in keep {
            n += publisher.vacuum(&name, &versions)?;
        }
        Ok(n)
    }
    #[cfg(not(feature = "delta"))]
    {
        let _ = layout;
        Err(unsupported())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_directories_give_their_values() {
        assert_eq!(
            partition_values("county_code=320612/year=2024"),
            vec![
                ("county_code".to_string(), "320612".to_string()),
                ("year".to_string(), "2024".to_string())
            ]
        );
        assert_eq!(
            partition_values("county_code=000000/year=0000"),
            vec![
                ("county_code".to_string(), "000000".to_string()),
                ("year".to_string(), "0".to_string())
            ]
        );
    }

    #[test]
    fn only_kept_lake_versions_keep_their_table_versions() {
        let mut s = DeltaState::default();
        s.record("t", 0, "r1");
        s.record("t", 1, "r2");
        s.record("t", 1, "r3");
        s.record("t", 2, "r4");
        let keep = s.keep_only(&["r3".to_string(), "r4".to_string()]);
        assert_eq!(keep["t"], vec![1, 2]);
        assert_eq!(s.tables["t"].lake_versions.len(), 2);
        assert_eq!(s.tables["t"].version, 2);
    }
}
