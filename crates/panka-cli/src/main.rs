//! `panka`: the command line. Parses arguments, runs one command, prints the result and sets
//! the exit code. The work itself lives in the library crates.

mod cli;
mod plan;
mod stack;
mod validate;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) if err.is::<stack::Reported>() => {
            eprintln!("{err}");
            ExitCode::from(1)
        }
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(1)
        }
    }
}

fn run(cli: cli::Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        cli::Command::Validate(args) => validate::run(&args),
        cli::Command::Plan(args) => plan::run(&args),
        cli::Command::Graph(args) => plan::graph(&args),
        cli::Command::Schema { plan } => {
            if plan {
                print!("{}", panka_plan::plan_schema_json());
            } else {
                print!("{}", panka_format::schema::schema_json());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
