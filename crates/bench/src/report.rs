//! The report: one row per measured quantity, with its baseline from the same run, the ratio and
//! the target; written as Markdown and JSON.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::Serialize;

/// Which way a target points.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Cmp {
    /// The value must not exceed the limit.
    AtMost,
    /// The value must reach the limit.
    AtLeast,
}

/// What a target is checked against.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum On {
    /// integ's value.
    Integ,
    /// integ's value divided by the baseline's.
    Ratio,
}

/// A target from the issue.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// What it applies to.
    pub on: On,
    /// Which way.
    pub cmp: Cmp,
    /// The limit, in the row's unit (or as a plain ratio).
    pub limit: f64,
}

/// One measured quantity.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// `B1` … `B6`.
    pub scenario: String,
    /// What is measured.
    pub metric: String,
    /// Its unit.
    pub unit: String,
    /// integ's value.
    pub integ: Option<f64>,
    /// What the baseline is.
    pub baseline_name: String,
    /// The baseline's value, measured in the same run.
    pub baseline: Option<f64>,
    /// integ ÷ baseline.
    pub ratio: Option<f64>,
    /// The target, if the issue sets one.
    pub target: Option<Target>,
    /// Whether the target is met (`None`: no target, or nothing measured).
    pub met: Option<bool>,
    /// Anything a reader needs to read the row right.
    pub note: String,
}

impl Row {
    /// A row of `scenario` measuring `metric` in `unit`.
    pub fn new(scenario: &str, metric: &str, unit: &str) -> Self {
        Self {
            scenario: scenario.to_owned(),
            metric: metric.to_owned(),
            unit: unit.to_owned(),
            integ: None,
            baseline_name: String::new(),
            baseline: None,
            ratio: None,
            target: None,
            met: None,
            note: String::new(),
        }
    }

    /// integ's value.
    pub fn integ(mut self, value: Option<f64>) -> Self {
        self.integ = value.filter(|v| v.is_finite());
        self.settle()
    }

    /// The baseline `name` and its value.
    pub fn baseline(mut self, name: &str, value: Option<f64>) -> Self {
        self.baseline_name = name.to_owned();
        self.baseline = value.filter(|v| v.is_finite());
        self.settle()
    }

    /// A target on integ's value.
    pub fn at_most(self, limit: f64) -> Self {
        self.target(On::Integ, Cmp::AtMost, limit)
    }

    /// A target on integ's value.
    pub fn at_least(self, limit: f64) -> Self {
        self.target(On::Integ, Cmp::AtLeast, limit)
    }

    /// A target on the ratio.
    pub fn ratio_at_least(self, limit: f64) -> Self {
        self.target(On::Ratio, Cmp::AtLeast, limit)
    }

    /// A target on the ratio.
    pub fn ratio_at_most(self, limit: f64) -> Self {
        self.target(On::Ratio, Cmp::AtMost, limit)
    }

    fn target(mut self, on: On, cmp: Cmp, limit: f64) -> Self {
        self.target = Some(Target { on, cmp, limit });
        self.settle()
    }

    /// A note.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = note.into();
        self
    }

    fn settle(mut self) -> Self {
        self.ratio = match (self.integ, self.baseline) {
            (Some(i), Some(b)) if b != 0.0 => Some(i / b),
            _ => None,
        };
        self.met = self.target.as_ref().and_then(|t| {
            let value = match t.on {
                On::Integ => self.integ?,
                On::Ratio => self.ratio?,
            };
            Some(match t.cmp {
                Cmp::AtMost => value <= t.limit,
                Cmp::AtLeast => value >= t.limit,
            })
        });
        self
    }
}

/// The machine and the code a report was made on.
#[derive(Debug, Clone, Serialize)]
pub struct Context {
    /// Logical cores.
    pub cores: usize,
    /// The CPU model from /proc/cpuinfo.
    pub cpu_model: String,
    /// `git rev-parse --short HEAD`.
    pub commit: String,
    /// When the run started (RFC 7231 date, UTC).
    pub date: String,
    /// `quick` or `full`.
    pub mode: String,
    /// Wall time of the whole run in seconds.
    pub seconds: f64,
}

impl Context {
    /// The context of a run starting now.
    pub fn now(quick: bool) -> Self {
        let (cores, cpu_model) = crate::procfs::machine();
        let commit = std::process::Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        Self {
            cores,
            cpu_model,
            commit,
            date: httpdate::fmt_http_date(std::time::SystemTime::now()),
            mode: if quick { "quick" } else { "full" }.to_owned(),
            seconds: 0.0,
        }
    }
}

/// A whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Machine, commit, date.
    pub context: Context,
    /// The rows, scenario by scenario.
    pub rows: Vec<Row>,
    /// Notes: how each scenario ran, and errors.
    pub notes: Vec<String>,
}

/// A number with about three significant digits.
pub fn num(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 10.0 {
        format!("{v:.2}")
    } else if a >= 0.01 || a == 0.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.2e}")
    }
}

fn cell(v: Option<f64>, unit: &str) -> String {
    match v {
        Some(v) if unit.is_empty() => num(v),
        Some(v) => format!("{} {unit}", num(v)),
        None => "–".to_owned(),
    }
}

impl Report {
    /// The Markdown text.
    pub fn markdown(&self) -> String {
        let c = &self.context;
        let mut out = String::new();
        let _ = writeln!(out, "# integ benchmark ({} mode)\n", c.mode);
        let _ = writeln!(
            out,
            "Machine: {} cores, {}. Commit {}. {}. Took {:.0} s.\n",
            c.cores, c.cpu_model, c.commit, c.date, c.seconds
        );
        let _ = writeln!(
            out,
            "Each baseline ran in the same invocation, alternating with integ; the ratio is \
             integ ÷ baseline. Absolute numbers are context only.\n"
        );
        let _ = writeln!(
            out,
            "| # | metric | integ | baseline | ratio | target | met? |\n|---|---|---|---|---|---|---|"
        );
        for r in &self.rows {
            let baseline = match (&r.baseline, r.baseline_name.is_empty()) {
                (_, true) => "–".to_owned(),
                (v, false) => format!("{} ({})", cell(*v, &r.unit), r.baseline_name),
            };
            let target = r.target.as_ref().map_or("–".to_owned(), |t| {
                let sign = match t.cmp {
                    Cmp::AtMost => "≤",
                    Cmp::AtLeast => "≥",
                };
                match t.on {
                    On::Integ => format!("{sign} {}", cell(Some(t.limit), &r.unit)),
                    On::Ratio => format!("ratio {sign} {}", num(t.limit)),
                }
            });
            let met = match r.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "–",
            };
            let metric = if r.note.is_empty() {
                r.metric.clone()
            } else {
                format!("{} ({})", r.metric, r.note)
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                r.scenario,
                metric,
                cell(r.integ, &r.unit),
                baseline,
                r.ratio.map_or("–".to_owned(), num),
                target,
                met
            );
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out, "\nNotes:\n");
            for n in &self.notes {
                let _ = writeln!(out, "- {n}");
            }
        }
        out
    }

    /// Writes `report.md` and `report.json` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::write(dir.join("report.md"), self.markdown())?;
        std::fs::write(
            dir.join("report.json"),
            serde_json::to_string_pretty(self)? + "\n",
        )?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_ratios() {
        let r = Row::new("B1", "p50", "ms")
            .integ(Some(0.2))
            .baseline("bare", Some(0.1))
            .at_most(0.3);
        assert_eq!(r.met, Some(true));
        assert!((r.ratio.unwrap() - 2.0).abs() < 1e-9);
        let r = Row::new("B2", "throughput", "/s")
            .integ(Some(90.0))
            .baseline("theory", Some(100.0))
            .ratio_at_least(0.95);
        assert_eq!(r.met, Some(false));
        let r = Row::new("B5", "rss", "MiB").at_most(20.0);
        assert_eq!(r.met, None);
        let report = Report {
            context: Context::now(true),
            rows: vec![r],
            notes: vec!["n".into()],
        };
        let md = report.markdown();
        assert!(md.contains("| B5 | rss | – |"));
        assert!(md.contains("≤ 20.00 MiB"));
    }
}
