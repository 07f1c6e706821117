//! `panka`: the command line. Parses arguments, runs one command, prints the result and sets
//! the exit code. The work itself lives in the library crates.

mod apply;
mod backend;
mod cli;
mod discover;
mod drift;
mod init;
mod plan;
mod policy;
mod stack;
mod state_cmd;
mod validate;

use std::process::ExitCode;

/// mimalloc: planning large stacks allocates many small JSON values; it is about 30% faster
/// there than the system allocator (docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    let g = &cli.global;
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
    };
    match cli.command {
        cli::Command::Backend(cli::BackendCommand::Init(args)) => {
            runtime()?.block_on(state_cmd::backend_init(&args, g))
        }
        cli::Command::State(cmd) => runtime()?.block_on(async {
            match cmd {
                cli::StateCommand::List(a) => state_cmd::list(&a, g).await,
                cli::StateCommand::Show(a) => state_cmd::show(&a, g).await,
                cli::StateCommand::Rm(a) => state_cmd::rm(&a, g).await,
                cli::StateCommand::Mv(a) => state_cmd::mv(&a, g).await,
                cli::StateCommand::Pull(a) => state_cmd::pull(&a, g).await,
                cli::StateCommand::Push(a) => state_cmd::push(&a, g).await,
                cli::StateCommand::Restore(a) => state_cmd::restore(&a, g).await,
            }
        }),
        cli::Command::Apply(args) => runtime()?.block_on(apply::apply(&args, g)),
        cli::Command::Destroy(args) => runtime()?.block_on(apply::destroy(&args, g)),
        cli::Command::History(args) => runtime()?.block_on(state_cmd::history(&args, g)),
        cli::Command::Status(args) => runtime()?.block_on(state_cmd::status(&args, g)),
        cli::Command::Logs(args) => runtime()?.block_on(state_cmd::logs(&args, g)),
        cli::Command::Drift(args) => match args.action {
            cli::DriftAction::Detect => runtime()?.block_on(drift::drift(&args, g)),
            cli::DriftAction::Remediate => runtime()?.block_on(apply::remediate(&args, g)),
        },
        cli::Command::Rollback(args) => runtime()?.block_on(apply::rollback(&args, g)),
        cli::Command::Import(args) if args.discover => runtime()?.block_on(discover::run(&args, g)),
        cli::Command::Import(args) => runtime()?.block_on(state_cmd::import(&args, g)),
        cli::Command::Locks(args) => runtime()?.block_on(state_cmd::locks(&args, g)),
        cli::Command::Unlock(args) => runtime()?.block_on(state_cmd::unlock(&args, g)),
        cli::Command::Validate(args) => validate::run(&args),
        cli::Command::Init(args) => init::init(&args),
        cli::Command::Completions(args) => Ok(init::completions(&args)),
        cli::Command::Plan(args) => runtime()?.block_on(plan::run(&args, g)),
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
