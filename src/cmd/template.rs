//! `zhenxing template T01 [--county 如皋市] [--period 2025-06] --out DIR`
//! (or `--all`): the blank workbooks the counties fill in, one per county
//! and template (see [`crate::report::form`]).

use std::path::PathBuf;

use crate::cmd::exit::{CommandError, Done, Outcome};

use crate::cmd::args::PipelineArg;

/// The flags of `zhenxing template`, as clap reads them.
#[derive(Debug, clap::Args)]
pub struct TemplateArgs {
    /// The pipeline definition.
    #[command(flatten)]
    pub p: PipelineArg,
    /// Templates (T01 …); none with --all.
    pub templates: Vec<String>,
    /// Every template of the pipeline (the registry aside).
    #[arg(long)]
    pub all: bool,
    /// One county (default: every county of the registry).
    #[arg(long)]
    pub county: Option<String>,
    /// The period the form is for (2025, 2025-06, 2025-Q2; default: the
    /// latest period due today, the one `status` says is due).
    #[arg(long)]
    pub period: Option<String>,
    /// Village registry file (default: from the pipeline file).
    #[arg(long)]
    pub registry: Option<PathBuf>,
    /// Folder to write to: DIR/<county>/<county>_<title>_<period>.xlsx.
    #[arg(long)]
    pub out: PathBuf,
    /// Also pack each county's forms with an instruction sheet into DIR/<county>_报表.zip.
    #[arg(long)]
    pub zip: bool,
    /// Who the counties ask, for the instruction sheet (e.g. "市委组织部 张三 0513-12345678").
    #[arg(long)]
    pub contact: Option<String>,
}

/// `zhenxing template` with its flags.
pub fn run(o: TemplateArgs) -> Outcome {
    let mut p = super::load_pipeline(&o.p.pipeline)?;
    if let Some(r) = &o.registry {
        p.registry = r.clone();
    }
    let sources = chosen(&p, &o).map_err(CommandError::usage)?;
    let (registry, _) = crate::validate::load_registry(&p, super::isolation(&p, true))
        .map_err(CommandError::usage)?;
    let counties = match &o.county {
        Some(c) if registry.counties().contains(c) => vec![c.clone()],
        Some(c) => {
            return Err(CommandError::usage(format!(
                "no county {c} in the registry; counties: {}",
                registry.counties().join(", ")
            )))
        }
        None => registry.counties(),
    };
    let mut n = 0;
    for c in &counties {
        n += county_forms(&p, &o, &sources, &registry, c).map_err(CommandError::failed)?;
    }
    eprintln!("{n} form(s) written to {}", o.out.display());
    Ok(Done::Clean)
}

/// The templates asked for (`--all`: every one but the registry's) and a
/// period that is one; what is wrong, said for the user.
fn chosen<'p>(
    p: &'p crate::config::Pipeline,
    o: &TemplateArgs,
) -> Result<Vec<&'p crate::config::Source>, String> {
    let forms = || p.sources.iter().filter(|s| s.dataset != "villages");
    let sources: Vec<&crate::config::Source> = if o.all {
        forms().collect()
    } else {
        let mut v = Vec::new();
        for t in &o.templates {
            match p.source(t).filter(|s| s.dataset != "villages") {
                Some(s) => v.push(s),
                None => {
                    let known: Vec<&str> = forms().map(|s| s.id.as_str()).collect();
                    return Err(format!("no template {t}; templates: {}", known.join(", ")));
                }
            }
        }
        v
    };
    if sources.is_empty() {
        return Err("name the templates (T01 …) or give --all".into());
    }
    if let Some(per) = &o.period {
        if crate::report::form::period_days(per).is_none() {
            return Err(format!(
                "period {per} is not a year (2025), month (2025-06) or quarter (2025-Q2)"
            ));
        }
    }
    Ok(sources)
}

/// One county's forms (and with `--zip` its pack), each path printed:
/// how many forms were written.
fn county_forms(
    p: &crate::config::Pipeline,
    o: &TemplateArgs,
    sources: &[&crate::config::Source],
    registry: &crate::validate::registry::Registry,
    county: &str,
) -> Result<usize, crate::report::ReportError> {
    let today = chrono::Local::now().date_naive();
    let mut packed = Vec::new();
    for src in sources {
        let period = match &o.period {
            Some(per) => crate::report::form::period_for(src, per),
            None => crate::report::form::due_period(src, today, p.lake.due_days),
        };
        let path = crate::report::form::write(p, src, registry, county, &period, &o.out)?;
        println!("{}", path.display());
        packed.push(crate::report::form::Packed {
            path,
            source: src,
            period,
        });
    }
    if o.zip {
        let path = crate::report::form::pack(p, county, &packed, o.contact.as_deref(), &o.out)?;
        println!("{}", path.display());
    }
    Ok(packed.len())
}
