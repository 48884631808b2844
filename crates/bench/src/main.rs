//! `integ-bench`: what integ costs next to a bare tonic server, measured on this machine.
//!
//! `make bench` runs every scenario (a few minutes); `--quick` runs each very briefly so that
//! the code cannot rot (part of `make test`; asserts no threshold). Every scenario runs its
//! baseline in the same invocation, alternating with integ, and reports the ratio. The report
//! (Markdown and JSON) goes to `<out>/report.md` and `<out>/report.json` and to stdout.
//!
//! ```text
//! integ-bench [--quick] [--out DIR] [--only B1,B3]
//! ```
//!
//! Layout: [`load`] is the load generator, [`procfs`] the per-process CPU and memory accounting,
//! [`spawn`] starts the servers under test, [`fake`] is the fake provider, [`bare`] the bare
//! tonic baseline, [`scenarios`] holds one module per scenario and [`report`] the output.
// A benchmark's job is to print its report: stdout is its interface, as for any CLI.
#![allow(clippy::print_stdout)]

mod bare;
mod fake;
mod load;
mod procfs;
mod report;
mod scenarios;
mod spawn;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// What the command line asked for.
#[derive(Debug, Clone)]
struct Options {
    quick: bool,
    out: PathBuf,
    only: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut options = Options {
        quick: false,
        out: PathBuf::from("target/bench"),
        only: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--out" => options.out = PathBuf::from(it.next().context("--out needs a directory")?),
            "--only" => {
                options.only = it
                    .next()
                    .context("--only needs a list such as B1,B3")?
                    .split(',')
                    .map(|s| s.trim().to_ascii_uppercase())
                    .filter(|s| !s.is_empty())
                    .collect();
            }
            "-h" | "--help" => {
                println!("usage: integ-bench [--quick] [--out DIR] [--only B1,B2,...]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other} (try --help)"),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some(bare::SUBCOMMAND) {
        bare::main(args.get(1..).unwrap_or_default())
    } else {
        parse(&args).and_then(bench)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "integ-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn bench(options: Options) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(options))
}

async fn run(options: Options) -> Result<()> {
    let started = Instant::now();
    let mut report = report::Report {
        context: report::Context::now(options.quick),
        rows: Vec::new(),
        notes: Vec::new(),
    };
    let mut bench = scenarios::Bench::new(options.quick);
    let mut failed = Vec::new();
    for (id, scenario) in scenarios::ALL {
        if !options.only.is_empty() && !options.only.iter().any(|o| o == id) {
            continue;
        }
        let t = Instant::now();
        let _ = writeln!(std::io::stderr(), "integ-bench: {id} …");
        match scenario.run(&mut bench).await {
            Ok(rows) => report.rows.extend(rows),
            Err(error) => {
                report.notes.push(format!("{id} failed: {error:#}"));
                failed.push(*id);
            }
        }
        let _ = writeln!(
            std::io::stderr(),
            "integ-bench: {id} took {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    report.notes.extend(bench.notes);
    report.context.seconds = started.elapsed().as_secs_f64();
    report.write(&options.out)?;
    println!("{}", report.markdown());
    println!(
        "Written to {} and {}",
        options.out.join("report.md").display(),
        options.out.join("report.json").display()
    );
    if !failed.is_empty() {
        bail!("scenarios failed: {}", failed.join(", "));
    }
    Ok(())
}
