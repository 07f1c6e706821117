//! Command-line arguments (FORMAT.md, "The command line").

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "panka", version, about = "Declarative deployments to AWS", long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Send every AWS call to this endpoint (an emulator such as LocalStack or moto).
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// How long to wait for a lock another live run holds (30s, 5m), saying who holds it; 0
    /// fails at once. A lock whose holder died on this host is taken over at once.
    #[arg(long, global = true, default_value = "5m", value_parser = crate::backend::parse_duration, value_name = "DURATION")]
    pub lock_timeout: std::time::Duration,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load a stack for an environment and report every problem in it.
    Validate(ValidateArgs),
    /// Show what an apply would change: actions by wave, changed fields, cost.
    Plan(PlanArgs),
    /// Plan and apply: create, update, replace and delete resources until AWS matches the YAML.
    Apply(ApplyArgs),
    /// Delete every resource of the stack (or of the targeted services), dependents first.
    Destroy(DestroyArgs),
    /// Draw the dependency graph with kinds and waves.
    Graph(GraphArgs),
    /// Create or check the state bucket and the lock table named in stack.yaml.
    #[command(subcommand)]
    Backend(BackendCommand),
    /// Inspect and edit the recorded state.
    #[command(subcommand)]
    State(StateCommand),
    /// List saved deployments, newest first.
    History(HistoryArgs),
    /// What is deployed: every component with its status and outputs, what the YAML has that is
    /// not deployed, the last deployment, pending operations and locks.
    Status(StatusArgs),
    /// Show (or follow) the CloudWatch logs of a MicroService, Worker or CronJob.
    Logs(LogsArgs),
    /// Compare what AWS reports with what panka applied, field by field (`drift` or `drift
    /// detect`; nothing is changed), or put drifted resources back (`drift remediate`).
    Drift(DriftArgs),
    /// Bring resources back to the configuration an earlier deployment left (the previous
    /// successful apply by default).
    Rollback(RollbackArgs),
    /// Adopt a resource that already exists in AWS under the name the YAML gives it: it is
    /// recorded in the state as it is, and the next plan shows how it differs from the YAML.
    /// With `--discover`, find existing resources (SQS, SNS, S3, DynamoDB), write a component
    /// file for each and record them all.
    Import(ImportArgs),
    /// List the stack's locks, stale ones marked.
    Locks(StackArgs),
    /// Remove a lock by id (see `panka locks`).
    Unlock(UnlockArgs),
    /// Create a new stack that validates as written: stack.yaml, one environment, one service
    /// with one MicroService, and the schema editors read.
    Init(InitArgs),
    /// Print the shell completion script (`source <(panka completions bash)`).
    Completions(CompletionsArgs),
    /// Print the JSON Schema (draft-07) of every stack document, for editors.
    Schema {
        /// Print the schema of `panka plan --output json` instead.
        #[arg(long)]
        plan: bool,
    },
}

/// `panka init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The stack's name (made under ./stacks/, where `--stack NAME` finds it), or a folder path
    /// whose last part is the name.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The first environment's name.
    #[arg(
        long,
        short = 'e',
        visible_alias = "env",
        default_value = "dev",
        value_name = "ENV"
    )]
    pub environment: String,
    /// The AWS region the stack deploys to.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
}

/// `panka completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write the script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Selects a stack and an environment.
#[derive(Debug, Args, Clone)]
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
    /// Keep state in this S3 bucket instead of the backend stack.yaml names (like Terraform's
    /// -backend-config): for CI accounts and emulators. Needs --lock-table unless stack.yaml has one.
    #[arg(long, env = "PANKA_STATE_BUCKET", value_name = "BUCKET")]
    pub state_bucket: Option<String>,
    /// Take locks in this DynamoDB table instead of the one stack.yaml names.
    #[arg(long, env = "PANKA_LOCK_TABLE", value_name = "TABLE")]
    pub lock_table: Option<String>,
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

/// `--policy`, on the commands that plan.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Rego policies judging the plan (a .rego file, or a folder of them; repeatable): `deny`
    /// rules stop it, `warn` rules are shown. Their input is the plan document.
    #[arg(long = "policy", value_name = "PATH")]
    pub paths: Vec<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Compare against this state file instead of the stack's backend.
    #[arg(long, value_name = "FILE")]
    pub state: Option<std::path::PathBuf>,
    /// Read every recorded resource from AWS first, so drift shows as changes.
    #[arg(long)]
    pub refresh: bool,
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

#[derive(Debug, Subcommand)]
pub enum BackendCommand {
    /// Create the state bucket (versioned, encrypted, private, with lifecycle rules) and the
    /// lock table (with TTL), or check existing ones and put back drifted settings.
    Init(StackArgs),
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List recorded resources.
    List(StackArgs),
    /// Show one recorded resource.
    Show(AddressArgs),
    /// Forget resources (they are left in AWS).
    Rm(AddressesArgs),
    /// Move a recorded resource to another address.
    Mv(MoveArgs),
    /// Print the state document.
    Pull(StackArgs),
    /// Replace the state with a document (refuses another lineage or an older serial).
    Push(PushArgs),
    /// Make the state of a past deployment current again, as a new serial.
    Restore(RestoreArgs),
}

#[derive(Debug, Args)]
pub struct AddressArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// `service/component`.
    pub address: String,
}

/// `panka import`: one component by address, or `--discover`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// `service/component` (without `--discover`).
    #[arg(required_unless_present = "discover", conflicts_with = "discover")]
    pub address: Option<String>,
    /// Find existing AWS resources of the kinds discovery covers (SQS, SNS, S3, DynamoDB, RDS,
    /// ElastiCacheRedis, Lambda),
    /// write a component file for each into the stack folder (creating stack.yaml, the
    /// environment and service.yaml when absent) and record them in the state.
    #[arg(long)]
    pub discover: bool,
    /// Only resources carrying this tag (repeatable: all must match).
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
    pub tags: Vec<(String, String)>,
    /// Only resources whose AWS name starts with this; it is left out of the component names.
    #[arg(long, value_name = "PREFIX")]
    pub name_prefix: Option<String>,
    /// Only this kind (repeatable): SQS, SNS, S3, DynamoDB, RDS, ElastiCacheRedis, Lambda.
    #[arg(long = "kind", value_name = "KIND")]
    pub kinds: Vec<String>,
    /// Put every discovered resource in this service.
    #[arg(long, value_name = "NAME", conflicts_with = "service_tag")]
    pub service: Option<String>,
    /// A service per value of this tag (resources without it go to `--service`, or are skipped).
    #[arg(long, value_name = "KEY")]
    pub service_tag: Option<String>,
    /// Discover a Copilot application: `--tag copilot-application=APP --service-tag
    /// copilot-service` (and `--tag copilot-environment=ENV` with `--copilot-env`).
    #[arg(long, value_name = "APP", conflicts_with = "service_tag")]
    pub from_copilot: Option<String>,
    /// With `--from-copilot`: only the resources of this Copilot environment.
    #[arg(long, value_name = "NAME", requires = "from_copilot")]
    pub copilot_env: Option<String>,
    /// The region of a stack.yaml discovery creates (an existing stack.yaml's region is used).
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Where a zip Lambda function's code lives (repeatable): Lambda does not report it, and
    /// discovery checks the object against the function's CodeSha256 before writing it as
    /// `code.s3`.
    #[arg(long = "lambda-code", value_name = "FUNCTION=s3://BUCKET/KEY[#VERSION]", value_parser = parse_tag)]
    pub lambda_code: Vec<(String, String)>,
    /// Print what would be written and adopted; write and record nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// `json` lists what discovery found, wrote (or would write) and skipped.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

impl ImportArgs {
    /// The discovery flags given (which need `--discover`).
    pub fn discovery_flags(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        if !self.tags.is_empty() {
            given.push("--tag");
        }
        if self.name_prefix.is_some() {
            given.push("--name-prefix");
        }
        if !self.kinds.is_empty() {
            given.push("--kind");
        }
        if self.service.is_some() {
            given.push("--service");
        }
        if self.service_tag.is_some() {
            given.push("--service-tag");
        }
        if self.from_copilot.is_some() {
            given.push("--from-copilot");
        }
        if !self.lambda_code.is_empty() {
            given.push("--lambda-code");
        }
        if self.dry_run {
            given.push("--dry-run");
        }
        if self.output != OutputFormat::Text {
            given.push("--output");
        }
        given
    }
}

fn parse_tag(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}

#[derive(Debug, Args)]
pub struct AddressesArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// `service/component`, one or more.
    #[arg(required = true)]
    pub addresses: Vec<String>,
}

#[derive(Debug, Args)]
pub struct MoveArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    pub source: String,
    pub destination: String,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// A state document (as `state pull` prints).
    pub file: std::path::PathBuf,
    /// Push even another lineage or an older serial.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// The deployment whose state to restore (see `panka history`).
    #[arg(long = "to", value_name = "DEPLOYMENT_ID")]
    pub to: String,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Show at most this many, newest first (with --stats: the figures of the last this many).
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Success rate, median and p95 duration and lock contention rate of the last `--limit`
    /// deployments (apply, destroy, rollback, remediate).
    #[arg(long)]
    pub stats: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// The lock's id, as `panka locks` prints it.
    pub lock_id: String,
    /// Remove a lock whose holder is still alive.
    #[arg(long)]
    pub force: bool,
}

/// Targeting and protection flags shared by plan-like commands.
#[derive(Debug, Args, Clone)]
pub struct TargetArgs {
    /// Only these services' components (and what they depend on).
    #[arg(long, value_name = "SERVICE")]
    pub service: Vec<String>,
    /// Only these components (and what they depend on).
    #[arg(long, value_name = "SERVICE/COMPONENT")]
    pub component: Vec<String>,
    /// Leave these out.
    #[arg(long, value_name = "SERVICE/COMPONENT")]
    pub exclude: Vec<String>,
    /// Allow deleting or replacing this stateful component (RDS, DynamoDB, S3, ...); with
    /// destroy, also a resource discovery adopted (`_shared/cluster`, `_shared/load-balancer`).
    #[arg(long, value_name = "SERVICE/COMPONENT")]
    pub allow_destroy: Vec<String>,
}

impl TargetArgs {
    /// The plan's targeting.
    pub fn targeting(&self) -> panka_plan::Targeting {
        panka_plan::Targeting {
            services: self.service.clone(),
            components: self.component.clone(),
            exclude: self.exclude.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved with `panka plan --out FILE`: apply exactly it.
    pub plan_file: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Apply without asking.
    #[arg(long)]
    pub auto_approve: bool,
    /// Read every recorded resource from AWS before planning, so drift is put right too.
    #[arg(long)]
    pub refresh: bool,
    /// Most actions running at once (default: the stack's `deployment.parallelism`, else 10).
    #[arg(long, value_name = "N")]
    pub parallelism: Option<usize>,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Destroy without asking.
    #[arg(long)]
    pub auto_approve: bool,
    /// Most actions running at once.
    #[arg(long, value_name = "N")]
    pub parallelism: Option<usize>,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// The deployment to go back to (an id from `panka history`); the successful apply before
    /// the latest one when absent.
    #[arg(long, value_name = "DEPLOYMENT_ID")]
    pub to: Option<String>,
    /// Allow replacing this stateful component if going back requires it.
    #[arg(long, value_name = "SERVICE/COMPONENT")]
    pub allow_destroy: Vec<String>,
    /// Roll back without asking.
    #[arg(long)]
    pub auto_approve: bool,
    /// Most actions running at once.
    #[arg(long, value_name = "N")]
    pub parallelism: Option<usize>,
}

/// What `panka drift` does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum DriftAction {
    /// What changed in AWS outside panka, field by field (nothing is changed).
    #[default]
    Detect,
    /// Plan and apply the updates that put drifted resources back to the YAML (and create
    /// missing ones again), shown and approved like an apply, recorded in history as a
    /// remediation.
    Remediate,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// `detect` (the default) or `remediate`.
    #[arg(value_enum, default_value_t = DriftAction::Detect)]
    pub action: DriftAction,
    #[command(flatten)]
    pub stack: StackArgs,
    /// Only these services' resources.
    #[arg(long = "service", value_name = "S")]
    pub services: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Exit 2 when something drifted (0 when nothing did, 1 on error).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// remediate: the policies judging the remediation's plan.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// remediate: apply without asking.
    #[arg(long)]
    pub auto_approve: bool,
    /// remediate: most actions running at once.
    #[arg(long, value_name = "N")]
    pub parallelism: Option<usize>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// The component, as `service/component`.
    #[arg(value_name = "S/C")]
    pub component: String,
    /// How far back to start (30s, 10m, 2h).
    #[arg(long, default_value = "10m", value_parser = crate::backend::parse_duration, value_name = "DURATION")]
    pub since: std::time::Duration,
    /// At most this many events (the newest).
    #[arg(long, default_value_t = 200)]
    pub limit: usize,
    /// Only events matching this CloudWatch Logs filter pattern (`ERROR`, `"timed out"`).
    #[arg(long, value_name = "PATTERN")]
    pub filter: Option<String>,
    /// Keep printing new events until Ctrl-C.
    #[arg(long, short = 'f')]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Show only what the state records, without asking AWS how each resource is doing.
    #[arg(long)]
    pub offline: bool,
}
