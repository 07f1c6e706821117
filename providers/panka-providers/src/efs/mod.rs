//! EFS file systems: the file system (its creation token is its name, so it is found again), a
//! security group, one mount target per Availability Zone of the stack's private subnets (or the
//! default VPC's), the lifecycle policy, automatic backups and access points.
//!
//! Performance mode and encryption force replacement; throughput, the Infrequent Access
//! transition and backups change in place. Access points are found by their `Name` tag; one whose
//! settings changed is made anew (access points cannot be modified), one gone from the spec is
//! deleted. Outputs: `fileSystemId`, `arn`, `dnsName`, `securityGroupId`. Besides the ids, the
//! state records the KMS key ARN EFS reports with the spec's spelling of the key (`kmsKeyArn`,
//! `kmsKey`), so a read can tell that ARN is the key the spec named (or EFS's default).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_efs::Client;
use aws_sdk_efs::types::{
    AccessPointDescription, BackupPolicy, CreationInfo, FileSystemDescription, LifeCycleState,
    LifecyclePolicy, PerformanceMode, PosixUser, RootDirectory, Status, Tag, ThroughputMode,
    TransitionToIaRules,
};
use panka_engine::Transient;
use panka_engine::provider::Outcome;
use panka_engine::{
    ErrorKind, Identity, KindProvider, Observation, ProviderError, Target, Unobservable,
};
use panka_format::kinds::{
    AccessPoint, AtRestEncryption, EfsPerformanceMode, EfsSpec, EfsThroughputMode,
};

use crate::errors::{aws_error, poll_while, unless_gone, unless_missing};
use crate::network::{delete_security_group, ensure_security_group, placement};

/// EFS documents file systems and mount targets becoming available within minutes. The unit
/// tests replay the states without the wait.
#[cfg(not(test))]
const POLL: Duration = Duration::from_secs(5);
#[cfg(test)]
const POLL: Duration = Duration::from_millis(1);
const POLLS: usize = 120;

/// Between two looks at a mount target being created or deleted: terraform-provider-aws looks
/// every 3 seconds at the least (`MinTimeout: 3 * time.Second` of `waitMountTargetCreated` and
/// `waitMountTargetDeleted`, internal/service/efs/mount_target.go), for up to its default
/// timeouts of 30 minutes (create) and 10 minutes (delete): 600 looks cover both. The unit
/// tests replay the states without the wait.
#[cfg(not(test))]
const MOUNT_TARGET_POLL: Duration = Duration::from_secs(3);
#[cfg(test)]
const MOUNT_TARGET_POLL: Duration = Duration::from_millis(1);
const MOUNT_TARGET_POLLS: usize = 600;

/// The EFS provider.
#[derive(Clone, Debug)]
pub struct EfsProvider {
    efs: Client,
    ec2: aws_sdk_ec2::Client,
}

impl EfsProvider {
    pub fn new(efs: Client, ec2: aws_sdk_ec2::Client) -> Self {
        EfsProvider { efs, ec2 }
    }
}

fn performance(m: EfsPerformanceMode) -> PerformanceMode {
    match m {
        EfsPerformanceMode::GeneralPurpose => PerformanceMode::GeneralPurpose,
        EfsPerformanceMode::MaxIO => PerformanceMode::MaxIo,
    }
}

fn throughput(m: EfsThroughputMode) -> ThroughputMode {
    match m {
        EfsThroughputMode::Bursting => ThroughputMode::Bursting,
        EfsThroughputMode::Provisioned => ThroughputMode::Provisioned,
        EfsThroughputMode::Elastic => ThroughputMode::Elastic,
    }
}

fn transition(days: u32) -> Result<TransitionToIaRules, ProviderError> {
    Ok(match days {
        1 => TransitionToIaRules::After1Day,
        7 => TransitionToIaRules::After7Days,
        14 => TransitionToIaRules::After14Days,
        30 => TransitionToIaRules::After30Days,
        60 => TransitionToIaRules::After60Days,
        90 => TransitionToIaRules::After90Days,
        180 => TransitionToIaRules::After180Days,
        270 => TransitionToIaRules::After270Days,
        365 => TransitionToIaRules::After365Days,
        other => {
            return Err(ProviderError::new(
                ErrorKind::Invalid,
                format!(
                    "transitionToIaDays {other} is not one EFS offers (1, 7, 14, 30, 60, 90, 180, 270, 365)"
                ),
            ));
        }
    })
}

fn tag(key: &str, value: &str) -> Option<Tag> {
    Tag::builder().key(key).value(value).build().ok()
}

/// The ids and outputs of a file system; the security group only when there is one.
/// `kms_key` is the spec's spelling of the file system's KMS key (`None`: EFS's default key),
/// recorded with the ARN EFS reports.
fn outcome(
    fs: &FileSystemDescription,
    region: &str,
    sg: Option<&str>,
    kms_key: Option<&str>,
) -> Outcome {
    let id = fs.file_system_id();
    let mut physical_ids = BTreeMap::from([("fileSystem".to_string(), id.to_string())]);
    let mut outputs = BTreeMap::from([
        ("fileSystemId".to_string(), id.to_string()),
        (
            "dnsName".to_string(),
            format!("{id}.efs.{region}.amazonaws.com"),
        ),
    ]);
    if let Some(arn) = fs.file_system_arn().filter(|a| !a.is_empty()) {
        outputs.insert("arn".to_string(), arn.to_string());
    }
    if let Some(sg) = sg.filter(|s| !s.is_empty()) {
        physical_ids.insert("securityGroup".to_string(), sg.to_string());
        outputs.insert("securityGroupId".to_string(), sg.to_string());
    }
    if let Some(arn) = fs.kms_key_id().filter(|k| !k.is_empty()) {
        physical_ids.insert("kmsKeyArn".to_string(), arn.to_string());
        if let Some(k) = kms_key {
            physical_ids.insert("kmsKey".to_string(), k.to_string());
        }
    }
    Outcome {
        physical_ids,
        outputs,
    }
}

/// The spec's default `permissions` of an access point (see [`AccessPoint`]).
const DEFAULT_PERMISSIONS: &str = "0755";

fn transition_days(rule: &TransitionToIaRules) -> Result<u32, ProviderError> {
    Ok(match rule {
        TransitionToIaRules::After1Day => 1,
        TransitionToIaRules::After7Days => 7,
        TransitionToIaRules::After14Days => 14,
        TransitionToIaRules::After30Days => 30,
        TransitionToIaRules::After60Days => 60,
        TransitionToIaRules::After90Days => 90,
        TransitionToIaRules::After180Days => 180,
        TransitionToIaRules::After270Days => 270,
        TransitionToIaRules::After365Days => 365,
        other => {
            return Err(ProviderError::new(
                ErrorKind::Invalid,
                format!(
                    "EFS reports an Infrequent Access transition {} panka does not know",
                    other.as_str()
                ),
            ));
        }
    })
}

/// What EFS reports of a file system besides its description.
struct Described<'a> {
    lifecycle: &'a [LifecyclePolicy],
    backup: Option<&'a BackupPolicy>,
    access_points: &'a [AccessPointDescription],
}

fn access_point_name(a: &AccessPointDescription) -> Option<String> {
    a.tags()
        .iter()
        .find(|t| t.key() == "Name")
        .map(|t| t.value().to_string())
        .or_else(|| a.name().map(str::to_string))
}

/// The file system as EFS reports it (DescribeFileSystems, DescribeLifecycleConfiguration,
/// DescribeBackupPolicy, DescribeAccessPoints), in the form of its spec: the inverse of
/// [`EfsProvider::converge`]. `ids` are the recorded ids (the security group, the KMS key's
/// spelling).
fn observe(
    fs: &FileSystemDescription,
    d: &Described<'_>,
    ids: &BTreeMap<String, String>,
    region: &str,
) -> Result<Observation<EfsSpec>, ProviderError> {
    let id = fs.file_system_id();
    let performance_mode = match fs.performance_mode() {
        PerformanceMode::GeneralPurpose => EfsPerformanceMode::GeneralPurpose,
        PerformanceMode::MaxIo => EfsPerformanceMode::MaxIO,
        other => {
            return Err(ProviderError::new(
                ErrorKind::Invalid,
                format!(
                    "EFS file system {id} has performance mode {} panka does not know",
                    other.as_str()
                ),
            ));
        }
    };
    let throughput_mode = match fs.throughput_mode() {
        Some(ThroughputMode::Provisioned) => EfsThroughputMode::Provisioned,
        Some(ThroughputMode::Elastic) => EfsThroughputMode::Elastic,
        // Bursting is EFS's own default, reported when no mode was asked for.
        _ => EfsThroughputMode::Bursting,
    };
    let provisioned_throughput_mibps = fs
        .provisioned_throughput_in_mibps()
        .filter(|_| throughput_mode == EfsThroughputMode::Provisioned)
        .map(|m| m.round() as u32);
    let at_rest = fs.encrypted().unwrap_or(false);
    let kms_key_id = fs
        .kms_key_id()
        .filter(|k| at_rest && !k.is_empty())
        .and_then(|k| crate::kms_spelling(ids, k));
    let transition_to_ia_days = d
        .lifecycle
        .iter()
        .find_map(|p| p.transition_to_ia())
        .map(transition_days)
        .transpose()?;
    let backup = d
        .backup
        .is_some_and(|b| matches!(b.status(), Status::Enabled | Status::Enabling));
    let mut unobserved = vec!["dependsOn"];
    let mut access_points = Vec::new();
    for a in d.access_points.iter().filter(|a| {
        !matches!(
            a.life_cycle_state(),
            Some(LifeCycleState::Deleting | LifeCycleState::Deleted)
        )
    }) {
        let root = a.root_directory();
        let permissions = match root.and_then(|r| r.creation_info()) {
            Some(c) => c.permissions().to_string(),
            None => {
                // Made without an owner, EFS creates no root directory and keeps no
                // permissions: the recorded value stands.
                if !unobserved.contains(&"accessPoints[].permissions") {
                    unobserved.push("accessPoints[].permissions");
                }
                DEFAULT_PERMISSIONS.to_string()
            }
        };
        let posix = a.posix_user();
        access_points.push(AccessPoint {
            name: access_point_name(a)
                .or_else(|| a.access_point_id().map(str::to_string))
                .unwrap_or_default(),
            path: root.and_then(|r| r.path()).unwrap_or("/").to_string(),
            uid: posix.and_then(|p| u32::try_from(p.uid()).ok()),
            gid: posix.and_then(|p| u32::try_from(p.gid()).ok()),
            permissions,
        });
    }
    access_points.sort_by(|a, b| a.name.cmp(&b.name));
    let spec = EfsSpec {
        performance_mode,
        throughput_mode,
        provisioned_throughput_mibps,
        encryption: AtRestEncryption {
            at_rest,
            kms_key_id: kms_key_id.clone(),
        },
        transition_to_ia_days,
        backup,
        access_points,
        depends_on: Vec::new(),
    };
    let sg = ids.get("securityGroup").map(String::as_str);
    Ok(
        Observation::new(outcome(fs, region, sg, kms_key_id.as_deref()), spec)
            .unobserved(&unobserved),
    )
}

/// The root directory and POSIX user of an access point: an owner (uid and gid) makes EFS
/// create the root directory with the spec's permissions.
fn access_point_parts(
    w: &AccessPoint,
) -> Result<(RootDirectory, Option<PosixUser>), ProviderError> {
    let invalid = |e: aws_sdk_efs::error::BuildError| {
        ProviderError::new(ErrorKind::Invalid, format!("access point {}: {e}", w.name))
    };
    let mut root = RootDirectory::builder().path(&w.path);
    let mut posix = None;
    if let (Some(uid), Some(gid)) = (w.uid, w.gid) {
        root = root.creation_info(
            CreationInfo::builder()
                .owner_uid(i64::from(uid))
                .owner_gid(i64::from(gid))
                .permissions(&w.permissions)
                .build()
                .map_err(invalid)?,
        );
        posix = Some(
            PosixUser::builder()
                .uid(i64::from(uid))
                .gid(i64::from(gid))
                .build()
                .map_err(invalid)?,
        );
    }
    Ok((root.build(), posix))
}

/// Whether an existing access point is what the spec asks for.
fn same_access_point(live: &AccessPointDescription, want: &AccessPoint) -> bool {
    let root = live.root_directory();
    let posix = live.posix_user();
    root.and_then(|r| r.path()) == Some(want.path.as_str())
        && posix.map(|p| p.uid()) == want.uid.map(i64::from)
        && posix.map(|p| p.gid()) == want.gid.map(i64::from)
        && root
            .and_then(|r| r.creation_info())
            .map(|c| c.permissions())
            .is_none_or(|p| p == want.permissions)
}

impl EfsProvider {
    async fn describe(&self, name: &str) -> Result<Option<FileSystemDescription>, ProviderError> {
        let found = self
            .efs
            .describe_file_systems()
            .creation_token(name)
            .send()
            .await
            .map_err(|e| aws_error(format!("looking for EFS file system {name}"), e))?;
        Ok(found
            .file_systems()
            .iter()
            .find(|f| {
                !matches!(
                    f.life_cycle_state(),
                    LifeCycleState::Deleting | LifeCycleState::Deleted
                )
            })
            .cloned())
    }

    /// The file system with the recorded id; `None` when it is gone or going.
    async fn describe_id(&self, id: &str) -> Result<Option<FileSystemDescription>, ProviderError> {
        let found = unless_missing(
            self.efs
                .describe_file_systems()
                .file_system_id(id)
                .send()
                .await,
            |e| e.is_file_system_not_found(),
            format!("reading EFS file system {id}"),
        )?;
        Ok(found.and_then(|f| {
            f.file_systems()
                .iter()
                .find(|f| {
                    !matches!(
                        f.life_cycle_state(),
                        LifeCycleState::Deleting | LifeCycleState::Deleted
                    )
                })
                .cloned()
        }))
    }

    /// Every access point of the file system, page by page; `None` when it is gone.
    async fn access_points(
        &self,
        fs: &str,
    ) -> Result<Option<Vec<AccessPointDescription>>, ProviderError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = unless_missing(
                self.efs
                    .describe_access_points()
                    .file_system_id(fs)
                    .set_next_token(token.clone())
                    .send()
                    .await,
                |e| e.is_file_system_not_found(),
                format!("listing the access points of {fs}"),
            )?;
            let Some(page) = page else {
                return Ok(None);
            };
            all.extend(page.access_points().iter().cloned());
            match page.next_token().filter(|t| !t.is_empty()) {
                Some(t) => token = Some(t.to_string()),
                None => return Ok(Some(all)),
            }
        }
    }

    /// Polls until the file system is available.
    async fn wait_available(&self, name: &str) -> Result<FileSystemDescription, ProviderError> {
        let check = || async {
            match self.describe(name).await? {
                Some(f) if f.life_cycle_state() == &LifeCycleState::Available => Ok(f),
                _ => Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!("EFS file system {name} did not become available"),
                )),
            }
        };
        poll_while(POLL, POLLS, ErrorKind::Timeout, check).await
    }

    /// One mount target per Availability Zone of `subnets`, in the security group `sg`; mount
    /// targets in other subnets are removed.
    ///
    /// # Guarantees
    /// Every mount target removed is gone (and every one being removed by an earlier run)
    /// before one is created: EFS refuses a second mount target in an Availability Zone while
    /// one there is `deleting` (`MountTargetConflict`), and a file system with mount targets
    /// (`FileSystemInUse`). Every mount target created, or found `creating`, is `available`
    /// when this returns. (https://docs.aws.amazon.com/efs/latest/ug/API_CreateMountTarget.html,
    /// https://docs.aws.amazon.com/efs/latest/ug/API_DeleteMountTarget.html)
    async fn converge_mount_targets(
        &self,
        fs: &str,
        subnets: &[String],
        sg: &str,
    ) -> Result<(), ProviderError> {
        let mut wanted = Vec::new();
        if !subnets.is_empty() {
            let described = self
                .ec2
                .describe_subnets()
                .set_subnet_ids(Some(subnets.to_vec()))
                .send()
                .await
                .map_err(|e| aws_error("reading the stack's subnets", e))?;
            // The first subnet of each zone, in the order the network gives them.
            let mut zones = BTreeSet::new();
            for id in subnets {
                if let Some(s) = described
                    .subnets()
                    .iter()
                    .find(|s| s.subnet_id() == Some(id.as_str()))
                    && zones.insert(s.availability_zone().unwrap_or_default().to_string())
                {
                    wanted.push(id.clone());
                }
            }
        }
        let existing = self
            .efs
            .describe_mount_targets()
            .file_system_id(fs)
            .send()
            .await
            .map_err(|e| aws_error(format!("listing the mount targets of {fs}"), e))?;
        let mut have = Vec::new();
        let mut going = Vec::new();
        let mut coming = Vec::new();
        for m in existing.mount_targets() {
            let id = m.mount_target_id().to_string();
            match m.life_cycle_state() {
                LifeCycleState::Deleted => {}
                // Being deleted by an earlier run: gone before anything is created.
                LifeCycleState::Deleting => going.push(id),
                _ if wanted.iter().any(|w| w == m.subnet_id()) => {
                    have.push(m.subnet_id().to_string());
                    if m.life_cycle_state() == &LifeCycleState::Creating {
                        coming.push(id);
                    }
                }
                _ => {
                    let deleted = self
                        .efs
                        .delete_mount_target()
                        .mount_target_id(&id)
                        .send()
                        .await;
                    unless_gone(
                        deleted,
                        |s| s.is_mount_target_not_found(),
                        format!("deleting mount target {id} of {fs}"),
                    )?;
                    going.push(id);
                }
            }
        }
        for id in &going {
            self.wait_mount_target_deleted(fs, id).await?;
        }
        for subnet in wanted.iter().filter(|w| !have.contains(w)) {
            let created = self
                .efs
                .create_mount_target()
                .file_system_id(fs)
                .subnet_id(subnet)
                .security_groups(sg)
                .send()
                .await
                .map_err(|e| {
                    aws_error(format!("creating a mount target of {fs} in {subnet}"), e)
                })?;
            coming.push(created.mount_target_id().to_string());
        }
        for id in &coming {
            self.wait_mount_target_available(fs, id).await?;
        }
        Ok(())
    }

    /// The lifecycle state of the mount target `id`; `None` once EFS no longer knows it.
    async fn mount_target_state(&self, id: &str) -> Result<Option<LifeCycleState>, ProviderError> {
        let found = unless_missing(
            self.efs
                .describe_mount_targets()
                .mount_target_id(id)
                .send()
                .await,
            |e| e.is_mount_target_not_found(),
            format!("reading mount target {id}"),
        )?;
        Ok(found.and_then(|f| {
            f.mount_targets()
                .iter()
                .find(|m| m.mount_target_id() == id)
                .map(|m| m.life_cycle_state().clone())
        }))
    }

    /// Polls until the mount target `id` is `available` (terraform-provider-aws
    /// `waitMountTargetCreated`: pending `creating`, target `available`).
    async fn wait_mount_target_available(&self, fs: &str, id: &str) -> Result<(), ProviderError> {
        let check = || async {
            match self.mount_target_state(id).await? {
                Some(LifeCycleState::Available) => Ok(()),
                Some(LifeCycleState::Creating) => Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!(
                        "waiting for mount target {id} of {fs} to become available: still creating after {} minutes",
                        MOUNT_TARGET_POLL.as_secs() * MOUNT_TARGET_POLLS as u64 / 60
                    ),
                )),
                Some(other) => Err(ProviderError::new(
                    ErrorKind::Conflict,
                    format!(
                        "waiting for mount target {id} of {fs} to become available: it is {}",
                        other.as_str()
                    ),
                )),
                None => Err(ProviderError::new(
                    ErrorKind::NotFound,
                    format!("mount target {id} of {fs} vanished while becoming available"),
                )),
            }
        };
        poll_while(
            MOUNT_TARGET_POLL,
            MOUNT_TARGET_POLLS,
            ErrorKind::Timeout,
            check,
        )
        .await
    }

    /// Polls until EFS no longer knows the mount target `id` (terraform-provider-aws
    /// `waitMountTargetDeleted`: pending `available`, `deleting`; target: not found). One
    /// reported `deleted` no longer holds its Availability Zone, and counts as gone.
    async fn wait_mount_target_deleted(&self, fs: &str, id: &str) -> Result<(), ProviderError> {
        let check = || async {
            match self.mount_target_state(id).await? {
                None | Some(LifeCycleState::Deleted) => Ok(()),
                Some(state) => Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!(
                        "waiting for mount target {id} of {fs} to be deleted: still {} after {} minutes",
                        state.as_str(),
                        MOUNT_TARGET_POLL.as_secs() * MOUNT_TARGET_POLLS as u64 / 60
                    ),
                )),
            }
        };
        poll_while(
            MOUNT_TARGET_POLL,
            MOUNT_TARGET_POLLS,
            ErrorKind::Timeout,
            check,
        )
        .await
    }

    async fn converge_access_points(
        &self,
        fs: &str,
        t: &Target<'_, EfsSpec>,
    ) -> Result<(), ProviderError> {
        let live = self
            .efs
            .describe_access_points()
            .file_system_id(fs)
            .send()
            .await
            .map_err(|e| aws_error(format!("listing the access points of {fs}"), e))?;
        let mut kept = Vec::new();
        for a in live.access_points() {
            let name = access_point_name(a);
            let wanted = t
                .spec
                .access_points
                .iter()
                .find(|w| Some(w.name.as_str()) == name.as_deref());
            match wanted {
                Some(w) if same_access_point(a, w) => kept.push(w.name.clone()),
                _ => {
                    let id = a.access_point_id().unwrap_or_default();
                    let deleted = self
                        .efs
                        .delete_access_point()
                        .access_point_id(id)
                        .send()
                        .await;
                    unless_gone(
                        deleted,
                        |s| s.is_access_point_not_found(),
                        format!("deleting access point {id}"),
                    )?;
                }
            }
        }
        for w in t
            .spec
            .access_points
            .iter()
            .filter(|w| !kept.contains(&w.name))
        {
            let (root, posix) = access_point_parts(w)?;
            let req = self.efs.create_access_point().set_posix_user(posix);
            req.client_token(format!("{}-{}", t.name, w.name))
                .file_system_id(fs)
                .root_directory(root)
                .set_tags(Some(
                    std::iter::once(tag("Name", &w.name))
                        .chain(t.tags.iter().map(|(k, v)| tag(k, v)))
                        .flatten()
                        .collect(),
                ))
                .send()
                .await
                .map_err(|e| aws_error(format!("creating access point {}", w.name), e))?;
        }
        Ok(())
    }

    async fn converge_settings(
        &self,
        fs: &FileSystemDescription,
        s: &EfsSpec,
    ) -> Result<(), ProviderError> {
        let id = fs.file_system_id();
        let mode_changed = fs.throughput_mode() != Some(&throughput(s.throughput_mode));
        let provisioned = s.provisioned_throughput_mibps.map(f64::from);
        let provisioned_changed = s.throughput_mode == EfsThroughputMode::Provisioned
            && fs.provisioned_throughput_in_mibps() != provisioned;
        if mode_changed || provisioned_changed {
            self.efs
                .update_file_system()
                .file_system_id(id)
                .throughput_mode(throughput(s.throughput_mode))
                .set_provisioned_throughput_in_mibps(
                    provisioned.filter(|_| s.throughput_mode == EfsThroughputMode::Provisioned),
                )
                .send()
                .await
                .map_err(|e| aws_error(format!("changing the throughput of {id}"), e))?;
        }
        let policies = match s.transition_to_ia_days {
            Some(days) => vec![
                LifecyclePolicy::builder()
                    .transition_to_ia(transition(days)?)
                    .build(),
            ],
            None => Vec::new(),
        };
        self.efs
            .put_lifecycle_configuration()
            .file_system_id(id)
            .set_lifecycle_policies(Some(policies))
            .send()
            .await
            .map_err(|e| aws_error(format!("setting the lifecycle of {id}"), e))?;
        let backups_on = self
            .efs
            .describe_backup_policy()
            .file_system_id(id)
            .send()
            .await
            .ok()
            .and_then(|b| b.backup_policy().map(|p| p.status() == &Status::Enabled));
        if backups_on != Some(s.backup) {
            self.efs
                .put_backup_policy()
                .file_system_id(id)
                .backup_policy(
                    BackupPolicy::builder()
                        .status(if s.backup {
                            Status::Enabled
                        } else {
                            Status::Disabled
                        })
                        .build()
                        .map_err(|e| {
                            ProviderError::new(ErrorKind::Invalid, format!("backup policy: {e}"))
                        })?,
                )
                .send()
                .await
                .map_err(|e| aws_error(format!("setting the backups of {id}"), e))?;
        }
        Ok(())
    }

    async fn converge(&self, t: &Target<'_, EfsSpec>) -> Result<Outcome, ProviderError> {
        let s = &t.spec;
        let place = placement(&self.ec2, t.config).await?;
        let sg = ensure_security_group(
            &self.ec2,
            t.name,
            &format!("panka: {} (EFS mount targets)", t.address),
            &place.vpc_id,
            t.tags,
        )
        .await?;
        let fresh = self.describe(t.name).await?.is_none();
        if fresh {
            self.efs
                .create_file_system()
                .creation_token(t.name)
                .performance_mode(performance(s.performance_mode))
                .throughput_mode(throughput(s.throughput_mode))
                .set_provisioned_throughput_in_mibps(
                    s.provisioned_throughput_mibps
                        .map(f64::from)
                        .filter(|_| s.throughput_mode == EfsThroughputMode::Provisioned),
                )
                .encrypted(s.encryption.at_rest)
                .set_kms_key_id(s.encryption.kms_key_id.clone())
                .backup(s.backup)
                .set_tags(Some(
                    std::iter::once(tag("Name", t.name))
                        .chain(t.tags.iter().map(|(k, v)| tag(k, v)))
                        .flatten()
                        .collect(),
                ))
                .send()
                .await
                .map_err(|e| aws_error(format!("creating EFS file system {}", t.name), e))?;
        }
        let fs = self.wait_available(t.name).await?;
        if !fresh {
            self.converge_settings(&fs, s).await?;
        } else if let Some(days) = s.transition_to_ia_days {
            self.efs
                .put_lifecycle_configuration()
                .file_system_id(fs.file_system_id())
                .lifecycle_policies(
                    LifecyclePolicy::builder()
                        .transition_to_ia(transition(days)?)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| aws_error(format!("setting the lifecycle of {}", t.name), e))?;
        }
        self.converge_mount_targets(fs.file_system_id(), &place.subnets, &sg)
            .await?;
        self.converge_access_points(fs.file_system_id(), t).await?;
        Ok(outcome(
            &fs,
            t.region,
            Some(&sg),
            s.encryption.kms_key_id.as_deref(),
        ))
    }
}

impl KindProvider for EfsProvider {
    type Spec = EfsSpec;
    const KIND: &'static str = "EFS";
    const UNOBSERVABLE: &'static [Unobservable] = &[
        crate::DEPENDS_ON,
        Unobservable {
            field: "accessPoints[].permissions",
            tracked_by: "EFS keeps no permissions for an access point made without an owner (uid and gid): the recorded value stands",
        },
    ];

    async fn create(&self, t: &Target<'_, EfsSpec>) -> Result<Outcome, ProviderError> {
        // A file system of this creation token is this component's only when it carries the
        // component's tags (CreateFileSystem sets them): anybody else's is refused, never changed.
        if let Some(fs) = self.describe(t.name).await? {
            check_file_system_owner(&fs, t)?;
        }
        self.converge(t).await
    }

    async fn read(&self, id: &Identity<'_>) -> Result<Option<Observation<EfsSpec>>, ProviderError> {
        let fs = match id.ids.get("fileSystem") {
            Some(fid) => self.describe_id(fid).await?,
            None => self.describe(id.name).await?,
        };
        let Some(fs) = fs else {
            return Ok(None);
        };
        let fid = fs.file_system_id();
        let (lifecycle, backup, points) = tokio::join!(
            self.efs
                .describe_lifecycle_configuration()
                .file_system_id(fid)
                .send(),
            self.efs.describe_backup_policy().file_system_id(fid).send(),
            self.access_points(fid),
        );
        // A file system deleted between the calls is gone.
        let Some(lifecycle) = unless_missing(
            lifecycle,
            |e| e.is_file_system_not_found(),
            format!("reading the lifecycle of EFS file system {fid}"),
        )?
        else {
            return Ok(None);
        };
        // No backup policy: backups are off.
        let backup = unless_missing(
            backup,
            |e| e.is_policy_not_found(),
            format!("reading the backup policy of EFS file system {fid}"),
        )?;
        let Some(points) = points? else {
            return Ok(None);
        };
        let described = Described {
            lifecycle: lifecycle.lifecycle_policies(),
            backup: backup.as_ref().and_then(|b| b.backup_policy()),
            access_points: &points,
        };
        observe(&fs, &described, id.ids, id.region).map(Some)
    }

    async fn update(
        &self,
        t: &Target<'_, EfsSpec>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        self.converge(t).await
    }

    async fn delete(
        &self,
        name: &str,
        _spec: Option<EfsSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        if let Some(fs) = self.describe(name).await? {
            let id = fs.file_system_id().to_string();
            let points = self
                .efs
                .describe_access_points()
                .file_system_id(&id)
                .send()
                .await
                .map_err(|e| aws_error(format!("listing the access points of {id}"), e))?;
            for a in points.access_points() {
                let ap = a.access_point_id().unwrap_or_default();
                let deleted = self
                    .efs
                    .delete_access_point()
                    .access_point_id(ap)
                    .send()
                    .await;
                unless_gone(
                    deleted,
                    |s| s.is_access_point_not_found(),
                    format!("deleting access point {ap}"),
                )?;
            }
            // Every mount target deleted and waited for until gone.
            self.converge_mount_targets(&id, &[], "").await?;
            // Still refused while EFS counts a mount target a moment longer, or one made by
            // somebody else meanwhile.
            let delete = || async {
                match self
                    .efs
                    .delete_file_system()
                    .file_system_id(&id)
                    .send()
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_file_system_not_found()) =>
                    {
                        Ok(())
                    }
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_file_system_in_use()) =>
                    {
                        Err(ProviderError::new(
                            ErrorKind::Transient(Transient::DependencyNotReady),
                            format!("EFS file system {id} still has mount targets"),
                        ))
                    }
                    Err(e) => Err(aws_error(format!("deleting EFS file system {id}"), e)),
                }
            };
            poll_while(
                POLL,
                POLLS,
                ErrorKind::Transient(Transient::DependencyNotReady),
                delete,
            )
            .await?;
        }
        if let Some(sg) = ids.get("securityGroup").filter(|s| !s.is_empty()) {
            delete_security_group(&self.ec2, sg).await?;
        }
        Ok(())
    }

    async fn health(
        &self,
        t: &Target<'_, EfsSpec>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        Ok(self.describe(t.name).await?.map(|f| {
            format!(
                "{} · {} mount targets · {} bytes",
                f.life_cycle_state().as_str(),
                f.number_of_mount_targets(),
                f.size_in_bytes().map(|s| s.value()).unwrap_or_default()
            )
        }))
    }

    async fn find(&self, t: &Target<'_, EfsSpec>) -> Result<Option<Outcome>, ProviderError> {
        let Some(fs) = self.describe(t.name).await? else {
            return Ok(None);
        };
        check_file_system_owner(&fs, t)?;
        let sg = crate::network::security_group_of(&self.ec2, t.config, t.name).await?;
        Ok(Some(outcome(
            &fs,
            t.region,
            Some(&sg),
            t.spec.encryption.kms_key_id.as_deref(),
        )))
    }
}

/// Refuses a file system that does not carry the component's tags (DescribeFileSystems
/// answers with each file system's tags).
fn check_file_system_owner(
    fs: &FileSystemDescription,
    t: &Target<'_, EfsSpec>,
) -> Result<(), ProviderError> {
    crate::errors::check_owner(
        &format!("EFS file system {} ({})", fs.file_system_id(), t.name),
        t.address,
        fs.tags().iter().map(|tag| (tag.key(), tag.value())),
        t.tags,
    )
}

#[cfg(test)]
mod tests;
