//! `panka import --discover`: finds existing AWS resources of the kinds discovery covers (SQS
//! queues, SNS topics, S3 buckets, DynamoDB tables, RDS instances, ElastiCache Redis
//! replication groups, Lambda functions, ECS services as MicroServices and Workers), writes one
//! component file for each into the stack folder and records them all in the state, so that the
//! first plan creates, replaces and deletes nothing.
//!
//! The ECS cluster and Application Load Balancer the adopted services use become the stack's
//! shared cluster and load balancer: their settings are written into stack.yaml's `shared`, and
//! they are recorded as adopted, so `panka destroy` leaves them unless `--allow-destroy` names
//! them.
//!
//! Each resource is listed with its service's list call, filtered by name prefix and tags, read
//! with its provider's observed-state reader, and written with its explicit AWS name where that
//! differs from the name panka derives (kinds without a name field are adopted only under the
//! derived name), leaving out every field equal to the kind's default; a value that is another
//! discovered resource's output becomes a reference to it.
//! The files are written, the stack is loaded and validated, and every resource is adopted
//! through the same code as `panka import S/C` (found by name, read, recorded), in one state
//! write under the stack lock. When anything fails after writing, the files written are
//! removed again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use panka_format::kinds::{ComponentSpec, Kind};
use panka_format::model::Address;
use serde_json::{Value, json};

use crate::backend::Backends;
use crate::cli::{GlobalArgs, ImportArgs, OutputFormat, StackArgs};
use crate::stack::{Reported, load_stack, print_diagnostics};

mod compute;
mod ecs;
mod links;
mod listing;
mod tagging;
mod yaml;

use compute::{CodeLocation, derived_component, list_lambda, list_rds, list_redis};
use ecs::{EcsUse, list_ecs};
use listing::{list_dynamodb, list_s3, list_sns, list_sqs};
use yaml::{component_yaml, infra_yaml, stack_yaml};

/// The kinds discovery finds, in the order it lists (and adopts) them: a kind after those its
/// components can refer to.
const COVERED: &[Kind] = &[
    Kind::SQS,
    Kind::SNS,
    Kind::S3,
    Kind::DynamoDB,
    Kind::RDS,
    Kind::ElastiCacheRedis,
    Kind::Lambda,
    Kind::MicroService,
    Kind::Worker,
];

/// The covered kinds whose format has no field for an explicit AWS name: adopted only under
/// the name panka derives.
const DERIVED_NAME_ONLY: &[Kind] = &[
    Kind::RDS,
    Kind::ElastiCacheRedis,
    Kind::Lambda,
    Kind::MicroService,
    Kind::Worker,
];

/// A resource listed in AWS.
#[derive(Clone, Debug)]
struct Listed {
    kind: Kind,
    /// Its AWS name.
    name: String,
    /// The ids its provider's read needs (queue URL, topic ARN, bucket, table).
    ids: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
    /// Settings it has that panka's format cannot express.
    inexpressible: Vec<String>,
    /// A zip function's `CodeSha256` (Lambda reports no location for a zip's code).
    code_sha256: Option<String>,
    /// An ECS service's cluster and load balancer.
    ecs: Option<EcsUse>,
}

/// A resource discovery adopts.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Found {
    address: String,
    kind: String,
    aws_name: String,
    /// The component file, relative to the stack folder.
    file: String,
    #[serde(skip)]
    spec: Value,
    /// Settings panka's format cannot express (left as they are in AWS).
    not_expressible: Vec<String>,
    /// Its outputs as the read reports them, for the references of the others.
    #[serde(skip)]
    outputs: BTreeMap<String, String>,
    /// Its infra.yaml's spec (sizing, scaling, networking), when it differs from the kind's
    /// defaults.
    #[serde(skip)]
    infra: Option<Value>,
}

/// One of the stack's shared resources, adopted because the discovered services use it.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SharedFound {
    address: String,
    kind: String,
    aws_name: String,
    /// Its ARN, found among the tagged resources.
    #[serde(skip)]
    arn: Option<String>,
    /// Its settings as stack.yaml's `shared` spells them, defaults left out.
    #[serde(skip)]
    settings: Value,
}

/// A resource the selectors matched that discovery does not adopt, and why.
#[derive(Clone, Debug, serde::Serialize)]
struct Skipped {
    kind: String,
    name: String,
    reason: String,
}

/// `panka import --discover`.
pub async fn run(args: &ImportArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    // `--from-copilot APP [--copilot-env ENV]` is shorthand for Copilot's tags.
    let copilot;
    let args = match &args.from_copilot {
        None => args,
        Some(app) => {
            let mut tags = args.tags.clone();
            tags.push(("copilot-application".into(), app.clone()));
            if let Some(env) = &args.copilot_env {
                tags.push(("copilot-environment".into(), env.clone()));
            }
            copilot = ImportArgs {
                tags,
                service_tag: Some("copilot-service".into()),
                from_copilot: None,
                copilot_env: None,
                stack: args.stack.clone(),
                address: None,
                discover: true,
                name_prefix: args.name_prefix.clone(),
                kinds: args.kinds.clone(),
                service: args.service.clone(),
                region: args.region.clone(),
                lambda_code: args.lambda_code.clone(),
                dry_run: args.dry_run,
                output: args.output,
            };
            &copilot
        }
    };
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let existing = panka_format::load::find_stack_root(&args.stack.stack, &cwd).ok();
    let root = existing
        .clone()
        .unwrap_or_else(|| cwd.join(&args.stack.stack));
    let (stack_name, region) = match &existing {
        Some(dir) => stack_yaml_name_region(dir)?,
        None => {
            let name = root
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            if !panka_format::naming::valid_resource_name(&name) {
                bail!(
                    "`{name}` (the folder's name) is not a stack name: use lower-case letters, digits and single `-`, starting with a letter"
                );
            }
            (name, args.region.clone())
        }
    };
    let environment = args.stack.environment.clone();
    if !panka_format::naming::valid_resource_name(&environment) {
        bail!("`{environment}` is not an environment name");
    }
    if args.service.is_none() && args.service_tag.is_none() {
        bail!(
            "say which service the resources go to: --service NAME (all in one), --service-tag KEY (one per value of that tag) or --from-copilot APP"
        );
    }
    if let Some(s) = &args.service
        && !panka_format::naming::valid_resource_name(s)
    {
        bail!("`{s}` is not a service name: use lower-case letters, digits and single `-`");
    }
    let kinds = selected_kinds(&args.kinds)?;
    let mut code_at: BTreeMap<String, CodeLocation> = BTreeMap::new();
    for (function, at) in &args.lambda_code {
        code_at.insert(function.clone(), compute::parse_code_location(at)?);
    }
    let not_covered: Vec<&str> = Kind::ALL
        .iter()
        .filter(|k| !COVERED.contains(k))
        .map(|k| k.name())
        .collect();

    let aws = panka_aws::Aws::load(&panka_aws::AwsOptions {
        region: Some(region.clone()),
        endpoint_url: global.endpoint_url.clone(),
    })
    .await;
    let registry = panka_providers::registry(&aws);
    let mut skipped = Vec::new();
    let mut listed = Vec::new();
    for kind in &kinds {
        let all = match kind {
            // One listing finds both; each keeps the services of its kind.
            Kind::MicroService | Kind::Worker => list_ecs(&aws, &mut skipped)
                .await?
                .into_iter()
                .filter(|l| l.kind == *kind)
                .collect(),
            Kind::SQS => list_sqs(&aws, args.name_prefix.as_deref()).await?,
            Kind::SNS => list_sns(&aws).await?,
            Kind::S3 => list_s3(&aws, &region, &mut skipped).await?,
            Kind::DynamoDB => list_dynamodb(&aws).await?,
            Kind::RDS => list_rds(&aws, &mut skipped).await?,
            Kind::ElastiCacheRedis => list_redis(&aws).await?,
            Kind::Lambda => list_lambda(&aws).await?,
            _ => Vec::new(),
        };
        listed.extend(all);
    }
    // The state backend's own bucket and lock table are not the application's.
    let own: BTreeSet<&str> = [&args.stack.state_bucket, &args.stack.lock_table]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    listed.retain(|l| {
        args.name_prefix
            .as_deref()
            .is_none_or(|p| l.name.starts_with(p))
            && args
                .tags
                .iter()
                .all(|(k, v)| l.tags.get(k).is_some_and(|t| t == v))
            && !own.contains(l.name.as_str())
    });

    // Services and component names.
    let mut taken: BTreeSet<(String, String)> = BTreeSet::new();
    let mut found = Vec::new();
    let mut common_tags: Option<BTreeMap<String, String>> = None;
    for l in listed {
        if let Some(s) = l.tags.get(panka_format::naming::TAG_STACK) {
            skipped.push(Skipped {
                kind: l.kind.name().into(),
                name: l.name.clone(),
                reason: format!("panka manages it already (stack `{s}`)"),
            });
            continue;
        }
        let service = match (&args.service_tag, &args.service) {
            (Some(key), fallback) => match l.tags.get(key) {
                Some(v) => match sanitize(v) {
                    Some(s) => s,
                    None => {
                        skipped.push(Skipped {
                            kind: l.kind.name().into(),
                            name: l.name.clone(),
                            reason: format!("its tag {key}={v} makes no service name"),
                        });
                        continue;
                    }
                },
                None => match fallback {
                    Some(s) => s.clone(),
                    None => {
                        skipped.push(Skipped {
                            kind: l.kind.name().into(),
                            name: l.name.clone(),
                            reason: format!("no tag {key} (pass --service for those)"),
                        });
                        continue;
                    }
                },
            },
            (None, Some(s)) => s.clone(),
            (None, None) => unreachable!("checked above"),
        };
        let component = if DERIVED_NAME_ONLY.contains(&l.kind) {
            // No field can name it: its component is the one whose derived name it has.
            let Some(component) =
                derived_component(&stack_name, &environment, &service, l.kind, &l.name)
            else {
                skipped.push(Skipped {
                    kind: l.kind.name().into(),
                    name: l.name.clone(),
                    reason: format!(
                        "panka's {} has no field for an explicit AWS name, and `{}` is not a name panka derives in service {service} (`{stack_name}-{environment}-{service}-COMPONENT`): adopting it would rename it",
                        l.kind, l.name
                    ),
                });
                continue;
            };
            if taken.contains(&(service.clone(), component.clone()))
                || root
                    .join("services")
                    .join(&service)
                    .join("components")
                    .join(&component)
                    .exists()
            {
                skipped.push(Skipped {
                    kind: l.kind.name().into(),
                    name: l.name.clone(),
                    reason: format!(
                        "its name makes it component {service}/{component}, which exists already"
                    ),
                });
                continue;
            }
            component
        } else {
            let base = l
                .name
                .strip_prefix(args.name_prefix.as_deref().unwrap_or(""))
                .unwrap_or(&l.name);
            let base = base.strip_suffix(".fifo").unwrap_or(base);
            let base = sanitize(base).unwrap_or_else(|| l.kind.name().to_ascii_lowercase());
            let mut component = base.clone();
            let mut n = 2;
            while taken.contains(&(service.clone(), component.clone()))
                || root
                    .join("services")
                    .join(&service)
                    .join("components")
                    .join(&component)
                    .exists()
                    && !root
                        .join(component_file(&service, &component, l.kind))
                        .exists()
            {
                let suffix = format!("-{n}");
                let keep = 40usize.saturating_sub(suffix.len()).min(base.len());
                component = format!("{}{suffix}", base[..keep].trim_end_matches('-'));
                n += 1;
            }
            component
        };
        // The stack's shared cluster and load balancer are found by the names panka gives them.
        if let Some(used) = &l.ecs
            && let Err(reason) = shared_names(&stack_name, &environment, used)
        {
            skipped.push(Skipped {
                kind: l.kind.name().into(),
                name: l.name.clone(),
                reason,
            });
            continue;
        }
        taken.insert((service.clone(), component.clone()));

        let address = Address::new(service.clone(), component.clone());
        let info = l.kind.info();
        let derived = panka_format::naming::physical_name(
            &stack_name,
            &environment,
            &address,
            info.name_limit,
            info.name_lowercase,
        );
        let provider = registry
            .get(l.kind.name())
            .with_context(|| format!("panka has no provider for {}", l.kind))?;
        let req = panka_engine::Request {
            address: address.to_text(),
            kind: l.kind.name().to_string(),
            name: derived,
            config: json!({}),
            tags: BTreeMap::new(),
            region: region.clone(),
        };
        let none = BTreeMap::new();
        let observed = provider
            .read(
                &req,
                panka_engine::Recorded {
                    ids: &l.ids,
                    outputs: &none,
                },
            )
            .await;
        let observed = match observed {
            Ok(o) => o,
            // Settings the kind cannot hold (an engine panka does not deploy, a required
            // field AWS does not report): this resource is not one panka can adopt.
            Err(e) if e.kind == panka_engine::ErrorKind::Invalid => {
                skipped.push(Skipped {
                    kind: l.kind.name().into(),
                    name: l.name.clone(),
                    reason: e.chain(),
                });
                continue;
            }
            Err(e) => bail!(e.chain()),
        };
        let Some(mut observed) = observed else {
            skipped.push(Skipped {
                kind: l.kind.name().into(),
                name: l.name.clone(),
                reason: "it vanished while it was read".into(),
            });
            continue;
        };
        if l.kind == Kind::Lambda
            && let Err(reason) = lambda_code(&aws, &l, &code_at, &mut observed.spec).await?
        {
            skipped.push(Skipped {
                kind: l.kind.name().into(),
                name: l.name.clone(),
                reason,
            });
            continue;
        }
        let infra = match observed.infra.as_ref().map(infra_without_defaults) {
            None => None,
            Some(Ok(i)) => i,
            Some(Err(e)) => {
                skipped.push(Skipped {
                    kind: l.kind.name().into(),
                    name: l.name.clone(),
                    reason: format!("its sizing does not fit panka's infra.yaml: {e}"),
                });
                continue;
            }
        };
        let spec = match without_defaults(l.kind, &external_targets(observed.spec)) {
            Ok(s) => s,
            Err(e) => {
                skipped.push(Skipped {
                    kind: l.kind.name().into(),
                    name: l.name.clone(),
                    reason: format!("its settings do not fit panka's {} spec: {e}", l.kind),
                });
                continue;
            }
        };
        let foreign: BTreeMap<String, String> = l
            .tags
            .iter()
            .filter(|(k, _)| !k.starts_with("panka:") && !k.starts_with("aws:"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        common_tags = Some(match common_tags {
            None => foreign.clone(),
            Some(mut c) => {
                c.retain(|k, v| foreign.get(k) == Some(v));
                c
            }
        });
        found.push((
            Found {
                address: address.to_text(),
                kind: l.kind.name().to_string(),
                aws_name: l.name.clone(),
                file: component_file(&service, &component, l.kind),
                spec,
                not_expressible: l.inexpressible.clone(),
                outputs: observed.outcome.outputs,
                infra,
            },
            foreign,
        ));
    }
    // Values that are another discovered resource's output become references to it; a
    // resource whose references cannot all be written is not adopted.
    let unlinked = links::link(&mut found);
    found = found
        .into_iter()
        .enumerate()
        .filter_map(|(i, f)| match unlinked.get(&i) {
            None => Some(f),
            Some(reason) => {
                skipped.push(Skipped {
                    kind: f.0.kind.clone(),
                    name: f.0.aws_name.clone(),
                    reason: reason.clone(),
                });
                None
            }
        })
        .collect();
    // What else the selectors match: resources of kinds panka does not manage (unless --kind
    // narrowed the search to kinds it does).
    // The cluster and load balancer of the services adopted are the stack's shared ones.
    let shared = shared_resources(
        &aws,
        &registry,
        &stack_name,
        &environment,
        &region,
        found.iter().map(|(f, _)| f.kind.as_str()),
    )
    .await?;
    if args.kinds.is_empty() && (!args.tags.is_empty() || args.name_prefix.is_some()) {
        let adopted: Vec<&Found> = found.iter().map(|(f, _)| f).collect();
        let shared_arns: Vec<(String, String)> = shared
            .iter()
            .filter_map(|s| Some((s.arn.clone()?, s.address.clone())))
            .collect();
        skipped.extend(
            tagging::unmanaged(
                &aws,
                &args.tags,
                args.name_prefix.as_deref(),
                &adopted,
                &shared_arns,
            )
            .await?,
        );
    }
    // Tags every discovered resource carries become the stack's default tags when discovery
    // writes stack.yaml; any other tag has no place in the format (the first apply sets a
    // resource's tags to the stack's defaults and panka's own).
    let stack_tags = if existing.is_none() {
        common_tags.unwrap_or_default()
    } else {
        BTreeMap::new()
    };
    let found: Vec<Found> = found
        .into_iter()
        .map(|(mut f, foreign)| {
            for (k, v) in foreign {
                if stack_tags.get(&k) != Some(&v) {
                    f.not_expressible.push(format!(
                        "tag {k}={v} (components have no tags of their own: the first apply removes it)"
                    ));
                }
            }
            f
        })
        .collect();

    // The files to write: each component, and stack.yaml, the environment and service.yaml
    // when absent.
    let mut files: Vec<(String, String)> = Vec::new();
    if existing.is_none() {
        let settings: serde_json::Map<String, Value> = shared
            .iter()
            .filter(|s| s.settings.as_object().is_some_and(|m| !m.is_empty()))
            .map(|s| (shared_key(&s.address).to_string(), s.settings.clone()))
            .collect();
        files.push((
            "stack.yaml".into(),
            stack_yaml(&stack_name, &region, &stack_tags, &Value::Object(settings)),
        ));
    }
    let env_file = format!("environments/{environment}.yaml");
    if !root.join(&env_file).exists()
        && !root
            .join(format!("environments/{environment}.yml"))
            .exists()
    {
        files.push((
            env_file,
            format!(
                "apiVersion: core.panka.io/v1\nkind: Environment\nmetadata: {{name: {environment}}}\n"
            ),
        ));
    }
    let services: BTreeSet<&str> = found
        .iter()
        .map(|f| f.address.split('/').next().unwrap_or_default())
        .collect();
    for s in services {
        let file = format!("services/{s}/service.yaml");
        if !root.join(&file).exists() && !root.join(format!("services/{s}/service.yml")).exists() {
            files.push((
                file,
                format!("apiVersion: core.panka.io/v1\nkind: Service\nmetadata: {{name: {s}}}\n"),
            ));
        }
    }
    for f in &found {
        if root.join(&f.file).exists() {
            bail!(
                "{} exists already: discovery never overwrites a component file (move it away, or leave {} out with --name-prefix, --tag or --kind)",
                root.join(&f.file).display(),
                f.aws_name
            );
        }
        files.push((f.file.clone(), component_yaml(f)));
        if let Some(infra) = &f.infra {
            let file = f
                .file
                .rsplit_once('/')
                .map_or(String::new(), |(dir, _)| dir.to_string())
                + "/infra.yaml";
            if root.join(&file).exists() {
                bail!(
                    "{} exists already: discovery never overwrites a component file",
                    root.join(&file).display()
                );
            }
            files.push((file, infra_yaml(&f.address, infra)));
        }
    }

    if args.output == OutputFormat::Json {
        let doc = json!({
            "stack": stack_name,
            "environment": environment,
            "region": region,
            "folder": root.display().to_string(),
            "dryRun": args.dry_run,
            "resources": found,
            "shared": shared,
            "files": files.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            "skipped": skipped,
            "notDiscoveredYet": not_covered,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        report(
            &found,
            &shared,
            &skipped,
            &not_covered,
            &region,
            args.dry_run,
        );
    }
    if args.dry_run {
        if args.output == OutputFormat::Text {
            println!();
            println!("Dry run: would write into {}:", root.display());
            for (path, text) in &files {
                println!("--- {path}");
                print!("{text}");
            }
            println!("Nothing was written or recorded.");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if found.is_empty() {
        if args.output == OutputFormat::Text {
            println!("Nothing to adopt: no file written, nothing recorded.");
        }
        return Ok(ExitCode::SUCCESS);
    }

    let mut written = Written::default();
    let result = write_and_record(&root, &files, &found, &shared, args, global, &mut written).await;
    match result {
        Ok(serial) => {
            if args.output == OutputFormat::Text {
                println!();
                println!(
                    "Wrote {} file{} in {} and recorded {} resource{} in the state (serial {serial}).",
                    files.len(),
                    if files.len() == 1 { "" } else { "s" },
                    root.display(),
                    found.len(),
                    if found.len() == 1 { "" } else { "s" }
                );
                println!(
                    "Nothing in AWS changed. The resources do not carry panka's tags (panka:stack, panka:environment, panka:service, panka:component, panka:managed-by) yet: the plan does not count tags, and an apply adds them when it next updates a resource."
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            written.undo();
            Err(e.context("nothing was recorded; the files discovery wrote are removed again"))
        }
    }
}

/// Writes the files, loads and validates the stack, adopts every resource and records them in
/// one state write; the new serial.
async fn write_and_record(
    root: &Path,
    files: &[(String, String)],
    found: &[Found],
    shared: &[SharedFound],
    args: &ImportArgs,
    global: &GlobalArgs,
    written: &mut Written,
) -> anyhow::Result<u64> {
    for (path, text) in files {
        written.write(&root.join(path), text)?;
    }
    let stack_args = StackArgs {
        stack: root.display().to_string(),
        ..args.stack.clone()
    };
    let loaded = load_stack(&stack_args)?;
    if loaded.diagnostics.has_errors() || loaded.stack.is_none() {
        print_diagnostics(&loaded);
        return Err(Reported(
            "the discovered stack does not validate (see above); please report this as a bug"
                .into(),
        )
        .into());
    }
    let stack = loaded.stack.expect("checked above");
    let backends = Backends::for_stack(&stack, global).await;
    backends.check().await?;
    let registry = crate::plan::providers(&stack, global).await;
    let current = backends.state.read(&backends.key).await?.map(|s| s.state);
    let outputs = current
        .as_ref()
        .map(|s| crate::plan::recorded_outputs(&s.resources))
        .unwrap_or_default();
    let mut outputs = outputs;
    let mut adopted = Vec::new();
    // The shared cluster and load balancer first (the services' requests name them), unless a
    // deployment recorded them already; marked as adopted, which `destroy` leaves.
    for s in shared {
        if current
            .as_ref()
            .is_some_and(|c| c.resources.contains_key(s.address.as_str()))
        {
            continue;
        }
        let mut a = crate::state_cmd::adopt(&stack, &registry, &s.address, &outputs).await?;
        a.resource.adopted = true;
        outputs.insert(s.address.clone(), a.resource.outputs.clone());
        adopted.push((s.address.clone(), a.resource));
    }
    // In the order of COVERED: what a component refers to is adopted (and its outputs known)
    // before it.
    for f in found {
        let a = crate::state_cmd::adopt(&stack, &registry, &f.address, &outputs).await?;
        outputs.insert(f.address.clone(), a.resource.outputs.clone());
        adopted.push((f.address.clone(), a.resource));
    }
    let state = crate::state_cmd::record(&stack, &backends, global, adopted).await?;
    Ok(state.serial)
}

/// The files and folders discovery made, to remove when it fails.
#[derive(Default)]
struct Written {
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl Written {
    fn write(&mut self, path: &Path, text: &str) -> anyhow::Result<()> {
        let mut missing = Vec::new();
        let mut p = path.parent();
        while let Some(d) = p {
            if d.exists() {
                break;
            }
            missing.push(d.to_path_buf());
            p = d.parent();
        }
        for d in missing.iter().rev() {
            std::fs::create_dir(d).with_context(|| format!("creating {}", d.display()))?;
            self.dirs.push(d.clone());
        }
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        self.files.push(path.to_path_buf());
        Ok(())
    }

    fn undo(&self) {
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
        for d in self.dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

fn report(
    found: &[Found],
    shared: &[SharedFound],
    skipped: &[Skipped],
    not_covered: &[&str],
    region: &str,
    dry: bool,
) {
    println!(
        "{} {} resource{} in {region} (discovery covers {}; {} are not discovered yet):",
        if dry { "Would adopt" } else { "Adopting" },
        found.len(),
        if found.len() == 1 { "" } else { "s" },
        COVERED
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", "),
        not_covered.join(", ")
    );
    let width = found.iter().map(|f| f.address.len()).max().unwrap_or(0);
    for f in found {
        println!(
            "  + {:<width$}  {:<8} {:<40} {}",
            f.address, f.kind, f.aws_name, f.file
        );
    }
    for s in shared {
        println!(
            "  = {:<width$}  {:<8} {:<40} stack.yaml (shared; recorded as adopted: destroy leaves it unless --allow-destroy {})",
            s.address, s.kind, s.aws_name, s.address
        );
    }
    if found.iter().any(|f| !f.not_expressible.is_empty()) {
        println!("Not expressible in panka's format (left as they are in AWS):");
        for f in found {
            for n in &f.not_expressible {
                println!("  {}: {n}", f.address);
            }
        }
    }
    if !skipped.is_empty() {
        println!("Skipped:");
        for s in skipped {
            println!("  {} {}: {}", s.kind, s.name, s.reason);
        }
    }
}

/// The kinds `--kind` selects (all covered kinds when none).
fn selected_kinds(names: &[String]) -> anyhow::Result<Vec<Kind>> {
    if names.is_empty() {
        return Ok(COVERED.to_vec());
    }
    let mut kinds = Vec::new();
    for n in names {
        let covered = || {
            COVERED
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some(k) = Kind::ALL
            .iter()
            .find(|k| k.name().eq_ignore_ascii_case(n))
            .copied()
        else {
            bail!("`{n}` is not a kind; discovery covers {}", covered());
        };
        if !COVERED.contains(&k) {
            bail!(
                "{k} resources are not discovered yet: discovery covers {} (import others one at a time with `panka import S/C` after writing their YAML)",
                covered()
            );
        }
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    Ok(kinds)
}

/// The name and region of an existing stack.yaml.
fn stack_yaml_name_region(dir: &Path) -> anyhow::Result<(String, String)> {
    let file = ["stack.yaml", "stack.yml"]
        .iter()
        .map(|f| dir.join(f))
        .find(|f| f.is_file())
        .with_context(|| format!("no stack.yaml in {}", dir.display()))?;
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    let doc: Value =
        serde_saphyr::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let name = doc
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .with_context(|| format!("{} has no metadata.name", file.display()))?;
    let region = doc
        .pointer("/spec/provider/region")
        .and_then(Value::as_str)
        .with_context(|| format!("{} has no spec.provider.region", file.display()))?;
    Ok((name.to_string(), region.to_string()))
}

/// A component or service name made of `text`: lower-case letters, digits and single `-`,
/// starting with a letter, at most 40 characters; `None` when nothing is left.
fn sanitize(text: &str) -> Option<String> {
    let mut out = String::new();
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out = out.trim_end_matches('-').to_string();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "r-");
    }
    out.truncate(40);
    let out = out.trim_end_matches('-').to_string();
    (!out.is_empty()).then_some(out)
}

fn component_file(service: &str, component: &str, kind: Kind) -> String {
    format!(
        "services/{service}/components/{component}/{}.yaml",
        kind.name().to_ascii_lowercase()
    )
}

/// An SNS subscription's read reports the ARN it delivers to as a `target`, which a component
/// file can only name as a component of the stack: discovery writes it as an `endpoint`.
fn external_targets(mut spec: Value) -> Value {
    if let Some(subs) = spec.get_mut("subscriptions").and_then(Value::as_array_mut) {
        for sub in subs {
            let arn = sub
                .pointer("/target/component")
                .and_then(Value::as_str)
                .filter(|c| c.starts_with("arn:"))
                .map(str::to_string);
            if let (Some(arn), Some(map)) = (arn, sub.as_object_mut()) {
                map.remove("target");
                map.insert("endpoint".into(), Value::String(arn));
            }
        }
    }
    spec
}

/// Puts a Lambda function's code into its observed `spec`: an image's URI is reported; a
/// zip's location is the one `--lambda-code` gives, checked against the function's
/// `CodeSha256`. Also leaves out a log retention Lambda did not report (no log group yet: the
/// kind's default stands). `Err` is why the function cannot be adopted.
async fn lambda_code(
    aws: &panka_aws::Aws,
    l: &Listed,
    given: &BTreeMap<String, CodeLocation>,
    spec: &mut Value,
) -> anyhow::Result<Result<(), String>> {
    if spec.pointer("/logging/retentionDays") == Some(&json!(0))
        && let Some(map) = spec.as_object_mut()
    {
        map.remove("logging");
    }
    let Some(sha) = &l.code_sha256 else {
        return Ok(Ok(()));
    };
    let Some(at) = given.get(&l.name) else {
        return Ok(Err(format!(
            "Lambda does not report where a zip function's code lives: pass --lambda-code {}=s3://BUCKET/KEY[#VERSION] (checked against its CodeSha256 {sha})",
            l.name
        )));
    };
    if !compute::same_code(aws, at, sha).await? {
        return Ok(Err(format!(
            "s3://{}/{} is not the code it runs (its SHA-256 is not the function's CodeSha256 {sha})",
            at.bucket, at.key
        )));
    }
    let mut s3 = json!({"bucket": at.bucket, "key": at.key});
    if let Some(v) = &at.version {
        s3["version"] = json!(v);
    }
    spec["code"] = json!({"s3": s3});
    Ok(Ok(()))
}

/// The observed spec without the fields equal to the kind's defaults (the required fields
/// stay); fails when the result does not mean the same spec.
fn without_defaults(kind: Kind, observed: &Value) -> anyhow::Result<Value> {
    let full = ComponentSpec::from_json(kind, observed.clone())
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .to_json();
    // The least spec: the required fields only.
    let required: Vec<&str> = match kind {
        Kind::DynamoDB => vec!["partitionKey"],
        Kind::Lambda => vec!["code"],
        Kind::RDS => vec!["engine", "instance", "database"],
        Kind::ElastiCacheRedis => vec!["nodeType", "engineVersion"],
        Kind::MicroService => vec!["image", "ports"],
        Kind::Worker => vec!["image"],
        _ => Vec::new(),
    };
    let mut least = serde_json::Map::new();
    for r in &required {
        if let Some(v) = full.get(*r) {
            least.insert((*r).to_string(), v.clone());
        }
    }
    let defaults = ComponentSpec::from_json(kind, Value::Object(least))
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .to_json();
    let mut short = full.clone();
    prune(&mut short, &defaults, &required);
    let back = ComponentSpec::from_json(kind, short.clone())
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .to_json();
    if back != full {
        bail!("leaving out its defaults changes it");
    }
    Ok(short)
}

/// An ECS service's observed infra (sizing, scaling, networking) without the fields equal to
/// those panka fills in when infra.yaml is absent; `None` when nothing is left.
fn infra_without_defaults(observed: &Value) -> anyhow::Result<Option<Value>> {
    use panka_format::model::{ComponentInfraSpec, Scaling};
    let parse = |v: Value| -> anyhow::Result<Value> {
        let spec: ComponentInfraSpec = serde_json::from_value(v)?;
        Ok(serde_json::to_value(spec)?)
    };
    let full = parse(observed.clone())?;
    // The infra of a service without infra.yaml: one task, no autoscaling.
    let defaults = serde_json::to_value(ComponentInfraSpec {
        scaling: Some(Scaling {
            replicas: 1,
            autoscaling: None,
        }),
        ..ComponentInfraSpec::default()
    })?;
    let mut short = full.clone();
    prune(&mut short, &defaults, &[]);
    if short.as_object().is_some_and(|m| m.is_empty()) {
        return if full == defaults {
            Ok(None)
        } else {
            bail!("leaving out its defaults changes it")
        };
    }
    let mut back = parse(short.clone())?;
    if back.get("scaling").is_none_or(Value::is_null) {
        back["scaling"] = defaults["scaling"].clone();
    }
    if back != full {
        bail!("leaving out its defaults changes it");
    }
    Ok(Some(short))
}

/// Why an ECS service cannot be adopted when its cluster or load balancer is not the one
/// panka names the stack's shared one (the format has no field for their names).
fn shared_names(stack: &str, environment: &str, used: &EcsUse) -> Result<(), String> {
    let base = format!("{stack}-{environment}");
    // The names the plan gives `_shared/cluster` and `_shared/load-balancer` (limits 255, 32).
    let cluster = panka_format::naming::shorten(&base, 255);
    let balancer = panka_format::naming::shorten(&base, 32);
    if used.cluster != cluster {
        return Err(format!(
            "it runs in ECS cluster {}, and the stack's shared cluster is named `{cluster}` (the format has no field for the cluster's name: adopting it would move the service)",
            used.cluster
        ));
    }
    if let Some((name, _)) = &used.load_balancer
        && *name != balancer
    {
        return Err(format!(
            "it is behind load balancer {name}, and the stack's shared load balancer is named `{balancer}` (the format has no field for its name: adopting it would move the service)"
        ));
    }
    Ok(())
}

/// The key of a shared resource in stack.yaml's `shared`.
fn shared_key(address: &str) -> &'static str {
    if address == panka_graph::SHARED_CLUSTER {
        "cluster"
    } else {
        "loadBalancer"
    }
}

/// The stack's shared cluster (for any MicroService or Worker among `kinds`) and load balancer
/// (for any MicroService), read with their providers under the names panka gives them, with
/// their settings as stack.yaml's `shared` spells them.
///
/// # Errors
/// When a read fails, or the load balancer is not in the region's default VPC (discovery does
/// not write the stack's `network` yet).
async fn shared_resources<'a>(
    aws: &panka_aws::Aws,
    registry: &panka_engine::Registry,
    stack: &str,
    environment: &str,
    region: &str,
    kinds: impl Iterator<Item = &'a str>,
) -> anyhow::Result<Vec<SharedFound>> {
    let kinds: BTreeSet<&str> = kinds.collect();
    let mut wanted = Vec::new();
    if kinds.contains("MicroService") || kinds.contains("Worker") {
        wanted.push((panka_graph::SHARED_CLUSTER, "SharedCluster", 255));
    }
    if kinds.contains("MicroService") {
        wanted.push((panka_graph::SHARED_LOAD_BALANCER, "SharedLoadBalancer", 32));
    }
    let mut out = Vec::new();
    for (address, kind, limit) in wanted {
        let name = panka_format::naming::shorten(&format!("{stack}-{environment}"), limit);
        let provider = registry
            .get(kind)
            .with_context(|| format!("panka has no provider for {kind}"))?;
        let req = panka_engine::Request {
            address: address.to_string(),
            kind: kind.to_string(),
            name: name.clone(),
            config: json!({}),
            tags: BTreeMap::new(),
            region: region.to_string(),
        };
        let none = BTreeMap::new();
        let observed = provider
            .read(
                &req,
                panka_engine::Recorded {
                    ids: &none,
                    outputs: &none,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!(e.chain()))?
            .with_context(|| format!("the {kind} {name} vanished while it was read"))?;
        let mut settings = observed.spec.clone();
        let defaults = if address == panka_graph::SHARED_CLUSTER {
            serde_json::to_value(panka_format::model::SharedCluster::default())?
        } else {
            if let Some(map) = settings.as_object_mut() {
                // Read without a recorded placement: whether a network was given cannot be
                // told from AWS, so the default VPC is checked here.
                map.remove("network");
            }
            let vpc = observed.outcome.outputs.get("vpcId");
            let default_vpc = match vpc {
                Some(vpc) => aws
                    .ec2()
                    .describe_vpcs()
                    .vpc_ids(vpc)
                    .send()
                    .await
                    .map_err(|e| anyhow::anyhow!("reading VPC {vpc}: {}", listing::aws_error(&e)))?
                    .vpcs()
                    .first()
                    .and_then(|v| v.is_default())
                    .unwrap_or(false),
                None => false,
            };
            if !default_vpc {
                bail!(
                    "load balancer {name} is in VPC {}, not the region's default VPC: discovery does not write the stack's `network` yet (leave its services out with --kind, --tag or --name-prefix)",
                    vpc.map_or("(not reported)", String::as_str)
                );
            }
            serde_json::to_value(panka_format::model::SharedLoadBalancer::default())?
        };
        prune(&mut settings, &defaults, &[]);
        out.push(SharedFound {
            address: address.to_string(),
            kind: kind.to_string(),
            aws_name: name,
            arn: observed.outcome.outputs.get("arn").cloned(),
            settings,
        });
    }
    Ok(out)
}

/// Removes from `value` every field equal to the one in `defaults` (nested mappings field by
/// field), except the `keep` ones at the top.
fn prune(value: &mut Value, defaults: &Value, keep: &[&str]) {
    let (Some(map), Some(def)) = (value.as_object_mut(), defaults.as_object()) else {
        return;
    };
    let keys: Vec<String> = map.keys().cloned().collect();
    for k in keys {
        if keep.contains(&k.as_str()) {
            continue;
        }
        let Some(d) = def.get(&k) else {
            continue;
        };
        if map.get(&k) == Some(d) {
            map.remove(&k);
        } else if let Some(v) = map.get_mut(&k)
            && v.is_object()
            && d.is_object()
        {
            prune(v, d, &[]);
            if v.as_object().is_some_and(|o| o.is_empty()) {
                map.remove(&k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitized() {
        assert_eq!(
            sanitize("Shop_Orders.fifo").as_deref(),
            Some("shop-orders-fifo")
        );
        assert_eq!(sanitize("--a--b--").as_deref(), Some("a-b"));
        assert_eq!(sanitize("9lives").as_deref(), Some("r-9lives"));
        assert_eq!(sanitize("___"), None);
    }

    #[test]
    fn services_use_the_shared_names_or_are_skipped() {
        let used = |cluster: &str, lb: Option<&str>| EcsUse {
            cluster: cluster.into(),
            load_balancer: lb.map(|n| (n.to_string(), format!("arn:{n}"))),
        };
        assert!(shared_names("shop", "dev", &used("shop-dev", Some("shop-dev"))).is_ok());
        assert!(shared_names("shop", "dev", &used("shop-dev", None)).is_ok());
        let e = shared_names("shop", "dev", &used("shop-prod", None)).unwrap_err();
        assert!(e.contains("shop-prod") && e.contains("`shop-dev`"), "{e}");
        let e = shared_names("shop", "dev", &used("shop-dev", Some("copilot-lb"))).unwrap_err();
        assert!(e.contains("copilot-lb"), "{e}");
    }

    #[test]
    fn infra_defaults_are_left_out() {
        let observed = json!({"resources": {"cpu": 256, "memory": 1024, "ephemeralStorageGB": 21},
            "scaling": {"replicas": 1}, "networking": {"subnets": "private", "assignPublicIp": false}});
        assert_eq!(
            infra_without_defaults(&observed).unwrap(),
            Some(json!({"resources": {"memory": 1024}}))
        );
        let all_default = json!({"scaling": {"replicas": 1}});
        assert_eq!(infra_without_defaults(&all_default).unwrap(), None);
    }

    #[test]
    fn defaults_are_left_out() {
        let observed = json!({"queueName": "shop-orders", "fifo": false, "contentBasedDeduplication": false,
            "visibilityTimeoutSeconds": 90, "retentionDays": 4, "delaySeconds": 0,
            "maxMessageSizeBytes": 262144, "receiveWaitTimeSeconds": 0,
            "encryption": {"sqsManaged": true}});
        assert_eq!(
            without_defaults(Kind::SQS, &observed).unwrap(),
            json!({"queueName": "shop-orders", "visibilityTimeoutSeconds": 90})
        );
        let table =
            json!({"partitionKey": {"name": "id", "type": "S"}, "pointInTimeRecovery": false});
        assert_eq!(without_defaults(Kind::DynamoDB, &table).unwrap(), table);
    }
}
