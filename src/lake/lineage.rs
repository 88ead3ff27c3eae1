//! OpenLineage run events: a run's start, then its completion or failure,
//! with the input files it read and the lake tables it published as
//! datasets and their row counts as facets, appended to the file named in
//! the pipeline's `[lineage]` section (one JSON object per line) and/or
//! POSTed to its HTTP endpoint. Airflow, Dagster or Marquez read such
//! events to show what a night did.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::config::Pipeline;
use crate::lake::manifest::Manifest;

const SPEC: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent";
const QUALITY: &str = "https://openlineage.io/spec/facets/1-0-2/DataQualityMetricsInputDatasetFacet.json#/$defs/DataQualityMetricsInputDatasetFacet";
const STATISTICS: &str = "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet";
const ERROR: &str = "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet";

/// Who wrote an event: this program and its version, as a URI.
fn producer() -> String {
    format!("urn:zhenxing:{}", env!("CARGO_PKG_VERSION"))
}

/// The events of one `zhenxing run`.
pub(crate) struct Lineage {
    path: Option<PathBuf>,
    url: Option<String>,
    namespace: String,
    job: String,
    /// OpenLineage wants a UUID; the manifest's run id is a facet.
    run_uuid: String,
}

impl Lineage {
    /// The run's events, when the pipeline names a lineage file or endpoint.
    pub fn of(p: &Pipeline) -> Option<Lineage> {
        let path = p.lineage.file.as_ref().map(PathBuf::from);
        let url = p.lineage.url.clone().filter(|u| !u.is_empty());
        if path.is_none() && url.is_none() {
            return None;
        }
        Some(Lineage {
            path,
            url,
            namespace: p
                .lineage
                .namespace
                .clone()
                .unwrap_or_else(|| p.name.clone()),
            job: format!("{}.run", p.name),
            run_uuid: uuid_v4(),
        })
    }

    fn event(&self, kind: &str, run_facets: Value, inputs: Value, outputs: Value) -> Value {
        json!({
            "eventType": kind,
            "eventTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "producer": producer(),
            "schemaURL": SPEC,
            "run": {"runId": self.run_uuid, "facets": run_facets},
            "job": {"namespace": self.namespace, "name": self.job},
            "inputs": inputs,
            "outputs": outputs,
        })
    }

    /// The run has begun: nothing is known of its files yet.
    pub fn start(&self) -> Result<(), LineageError> {
        self.append(&self.event("START", json!({}), json!([]), json!([])))
    }

    /// The run published (or found nothing new): the files it read this run
    /// with their rows read, and the lake's tables with their rows.
    /// `exit_code` is the command's (an indicator stage that failed after
    /// the lake was published makes it 2).
    pub fn complete(
        &self,
        m: &Manifest,
        inbox: &Path,
        out: &Path,
        exit_code: i32,
    ) -> Result<(), LineageError> {
        let inbox_ns = namespace_of(inbox);
        let inputs: Vec<Value> = m
            .files
            .iter()
            .filter(|f| f.read_this_run)
            .map(|f| {
                json!({
                    "namespace": inbox_ns,
                    "name": f.path,
                    "inputFacets": {"dataQualityMetrics": {
                        "_producer": producer(), "_schemaURL": QUALITY,
                        "rowCount": f.rows_read, "columnMetrics": {},
                    }},
                })
            })
            .collect();
        let lake_ns = namespace_of(&out.join("lake"));
        let outputs: Vec<Value> = m
            .lake_rows
            .iter()
            .map(|(dataset, rows)| {
                json!({
                    "namespace": lake_ns,
                    "name": dataset,
                    "outputFacets": {"outputStatistics": {
                        "_producer": producer(), "_schemaURL": STATISTICS,
                        "rowCount": rows,
                    }},
                })
            })
            .collect();
        let facets = json!({"zhenxing": {
            "_producer": producer(),
            "_schemaURL": "urn:zhenxing:run-facet",
            "run_id": m.run_id, "outcome": m.outcome, "version": m.version,
            "exit_code": exit_code,
        }});
        self.append(&self.event("COMPLETE", facets, json!(inputs), json!(outputs)))
    }

    /// The run stopped with an error; the lake is as it was.
    pub(crate) fn fail(&self, message: &str) -> Result<(), LineageError> {
        let facets = json!({"errorMessage": {
            "_producer": producer(), "_schemaURL": ERROR,
            "message": message, "programmingLanguage": "rust",
        }});
        self.append(&self.event("FAIL", facets, json!([]), json!([])))
    }

    /// The event to the file and to the endpoint; what failed, said once.
    fn append(&self, event: &Value) -> Result<(), LineageError> {
        let file = self.path.as_deref().map(|p| append_line(p, event));
        let sent = self.url.as_deref().map(|u| post(u, event));
        match (file, sent) {
            (Some(Err(f)), Some(Err(s))) => Err(LineageError::Both(Box::new(f), Box::new(s))),
            (Some(Err(e)), _) | (_, Some(Err(e))) => Err(e),
            _ => Ok(()),
        }
    }
}

/// Why a lineage event was not written or sent (the run goes on).
#[derive(Debug, thiserror::Error)]
pub enum LineageError {
    /// The lineage file cannot be written.
    #[error("lineage file {}: {source}", path.display())]
    File {
        /// The lineage file.
        path: std::path::PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The endpoint did not take the event.
    #[error("lineage endpoint {url}: {source}")]
    Endpoint {
        /// The endpoint.
        url: String,
        /// What the HTTP client said.
        #[source]
        source: Box<ureq::Error>,
    },
    /// Neither the file nor the endpoint took it.
    #[error("{0}; {1}")]
    Both(Box<LineageError>, Box<LineageError>),
}

/// One line, written with one call on a file opened for appending, so two
/// writers never interleave within an event.
fn append_line(path: &Path, event: &Value) -> Result<(), LineageError> {
    let mut line = event.to_string();
    line.push('\n');
    let err = |source: std::io::Error| LineageError::File {
        path: path.to_path_buf(),
        source,
    };
    if let Some(d) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(d).map_err(err)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .map_err(err)
}

/// POSTs one event as JSON (OpenLineage's HTTP transport), waiting at most
/// 10 s: a lineage server that is down costs the night nothing.
fn post(url: &str, event: &Value) -> Result<(), LineageError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .build()
        .into();
    let mut req = agent.post(url).header("Content-Type", "application/json");
    if let Ok(key) = std::env::var("OPENLINEAGE_API_KEY") {
        req = req.header("Authorization", &format!("Bearer {key}"));
    }
    req.send(event.to_string().as_bytes())
        .map(|_| ())
        .map_err(|e| LineageError::Endpoint {
            url: url.to_string(),
            source: Box::new(e),
        })
}

/// `file://` and the folder's absolute path.
fn namespace_of(dir: &Path) -> String {
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    format!("file://{}", abs.display())
}

/// A random (version 4) UUID.
fn uuid_v4() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_version_4_uuids() {
        let a = uuid_v4();
        let parts: Vec<usize> = a.split('-').map(|p| p.len()).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
        assert_ne!(a, uuid_v4());
    }
}
