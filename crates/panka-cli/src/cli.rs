//! Command-line arguments (FORMAT.md, "The command line").

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "panka", version, about = "Declarative deployments to AWS", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load a stack for an environment and report every problem in it.
    Validate(ValidateArgs),
    /// Show what an apply would change: actions by wave, changed fields, cost.
    Plan(PlanArgs),
    /// Draw the dependency graph with kinds and waves.
    Graph(GraphArgs),
    /// Print the JSON Schema (draft-07) of every stack document, for editors.
    Schema {
        /// Print the schema of `panka plan --output json` instead.
        #[arg(long)]
        plan: bool,
    },
}

/// Selects a stack and an environment.
#[derive(Debug, Args)]
pub struct StackArgs {
    /// A folder holding stack.yaml, or a stack name looked up under ./stacks/.
    #[arg(long, value_name = "PATH|NAME")]
    pub stack: String,
    /// The environment (a file under the stack's environments/).
    #[arg(long, short = 'e', visible_alias = "env", value_name = "ENV")]
    pub environment: String,
    /// Sets a variable, overriding the environment's and the stack's values.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
}

fn parse_var(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{text}` is not NAME=VALUE")),
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Plan only these services' components (and what they depend on).
    #[arg(long, value_name = "SERVICE")]
    pub service: Vec<String>,
    /// Plan only these components (and what they depend on).
    #[arg(long, value_name = "SERVICE/COMPONENT")]
    pub component: Vec<String>,
    /// Leave these out of the plan.
    #[arg(long, value_name = "SERVICE/COMPONENT")]
    pub exclude: Vec<String>,
    /// Allow deleting or replacing this stateful component (RDS, DynamoDB, S3, ...).
    #[arg(long, value_name = "SERVICE/COMPONENT")]
    pub allow_destroy: Vec<String>,
    /// Compare against this state file instead of the stack's backend.
    #[arg(long, value_name = "FILE")]
    pub state: Option<std::path::PathBuf>,
    /// Save the plan; `panka apply FILE` applies exactly it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Drawing format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
}
