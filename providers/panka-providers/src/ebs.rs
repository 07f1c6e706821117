//! EBS volumes: a volume in the Availability Zone asked for (or the region's first), of the type,
//! size, IOPS and throughput asked for, encrypted unless told otherwise, optionally from a
//! snapshot. EBS volumes have no name: panka tags the volume `Name` = its AWS name and finds it
//! again by that tag with the stack's. Size grows in place (EBS never shrinks a volume: a smaller
//! size is refused with a message); type, IOPS and throughput change in place; zone, encryption
//! and snapshot force replacement. Outputs: `volumeId`, `arn`, `availabilityZone`.
//!
//! Besides the volume id, the state records the KMS key ARN EBS reports with the spec's spelling
//! of the key (`kmsKeyArn`, `kmsKey`), and the zone as `defaultZone` (panka chose it: the spec
//! named none) or `namedZone`, so a read can tell AWS's answer is what the spec asked for.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::client::Waiters;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification, Volume, VolumeType};
use panka_engine::provider::Outcome;
use panka_engine::{
    ErrorKind, Identity, KindProvider, Observation, ProviderError, Target, Unobservable,
};
use panka_format::kinds::{AtRestEncryption, EbsSpec, EbsVolumeType};
use tokio::sync::OnceCell;

use crate::errors::{aws_error, unless_gone};

/// EBS documents volumes becoming available in seconds; large volumes from snapshots take longer.
const AVAILABLE_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The EBS provider.
#[derive(Clone, Debug)]
pub struct EbsProvider {
    ec2: Client,
    sts: aws_sdk_sts::Client,
    /// The account the volumes are in (for their ARNs), asked once.
    account: Arc<OnceCell<String>>,
}

impl EbsProvider {
    pub fn new(ec2: Client, sts: aws_sdk_sts::Client) -> Self {
        EbsProvider {
            ec2,
            sts,
            account: Arc::default(),
        }
    }

    async fn account(&self) -> Result<&str, ProviderError> {
        self.account
            .get_or_try_init(|| async {
                let me = self
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| aws_error("asking STS which account this is", e))?;
                Ok(me.account().unwrap_or_default().to_string())
            })
            .await
            .map(String::as_str)
    }
}

fn volume_type(t: EbsVolumeType) -> VolumeType {
    match t {
        EbsVolumeType::Gp2 => VolumeType::Gp2,
        EbsVolumeType::Gp3 => VolumeType::Gp3,
        EbsVolumeType::Io1 => VolumeType::Io1,
        EbsVolumeType::Io2 => VolumeType::Io2,
        EbsVolumeType::St1 => VolumeType::St1,
        EbsVolumeType::Sc1 => VolumeType::Sc1,
    }
}

fn tags(name: &str, t: &BTreeMap<String, String>) -> Vec<Tag> {
    std::iter::once(Tag::builder().key("Name").value(name).build())
        .chain(
            t.iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build()),
        )
        .collect()
}

/// gp3's baseline, which EBS reports when the spec asks for none.
const GP3_IOPS: i32 = 3000;
const GP3_THROUGHPUT: i32 = 125;

fn volume_arn(region: &str, account: &str, id: &str) -> String {
    format!("arn:aws:ec2:{region}:{account}:volume/{id}")
}

/// The ids and outputs of a volume. `kms_key` is the spec's spelling of the volume's KMS key
/// (`None`: the spec named none, the key is EBS's default), recorded with the ARN EBS reports;
/// `zone_named`: the spec named the zone (`namedZone`; else `defaultZone`, panka's choice).
fn outcome(v: &Volume, arn: String, kms_key: Option<&str>, zone_named: bool) -> Outcome {
    let id = v.volume_id().unwrap_or_default();
    let zone = v.availability_zone().filter(|z| !z.is_empty());
    let mut physical_ids = BTreeMap::from([("volume".to_string(), id.to_string())]);
    if let Some(key) = v.kms_key_id().filter(|k| !k.is_empty()) {
        physical_ids.insert("kmsKeyArn".to_string(), key.to_string());
        if let Some(k) = kms_key {
            physical_ids.insert("kmsKey".to_string(), k.to_string());
        }
    }
    let mut outputs = BTreeMap::from([
        ("volumeId".to_string(), id.to_string()),
        ("arn".to_string(), arn),
    ]);
    if let Some(z) = zone {
        outputs.insert("availabilityZone".to_string(), z.to_string());
        let how = if zone_named {
            "namedZone"
        } else {
            "defaultZone"
        };
        physical_ids.insert(how.to_string(), z.to_string());
    }
    Outcome {
        physical_ids,
        outputs,
    }
}

/// The volume as EC2 reports it (DescribeVolumes), in the form of its spec: the inverse of the
/// CreateVolume request. `default_zone` is the zone panka picks when the spec names none (a
/// volume there has no `availabilityZone`); `ids` the recorded ids (the KMS key's spelling).
fn observe(
    v: &Volume,
    ids: &BTreeMap<String, String>,
    default_zone: Option<&str>,
    arn: String,
) -> Result<Observation<EbsSpec>, ProviderError> {
    let volume_type = match v.volume_type() {
        Some(VolumeType::Gp2) => EbsVolumeType::Gp2,
        Some(VolumeType::Gp3) => EbsVolumeType::Gp3,
        Some(VolumeType::Io1) => EbsVolumeType::Io1,
        Some(VolumeType::Io2) => EbsVolumeType::Io2,
        Some(VolumeType::St1) => EbsVolumeType::St1,
        Some(VolumeType::Sc1) => EbsVolumeType::Sc1,
        other => {
            return Err(ProviderError::new(
                ErrorKind::Invalid,
                format!(
                    "EBS volume {} is of type {}, which panka does not manage",
                    v.volume_id().unwrap_or_default(),
                    other.map_or("(none)", |t| t.as_str())
                ),
            ));
        }
    };
    let unsigned = |n: Option<i32>| n.and_then(|n| u32::try_from(n).ok());
    // Only gp3, io1 and io2 take IOPS, and only gp3 throughput; EBS reports a baseline for gp2
    // (from the size), which no spec sets. gp3's baselines, reported when the spec asked for
    // none, are AWS's to set then (see `managed_by_aws`).
    let iops = match volume_type {
        EbsVolumeType::Gp3 | EbsVolumeType::Io1 | EbsVolumeType::Io2 => v.iops(),
        _ => None,
    };
    let throughput = match volume_type {
        EbsVolumeType::Gp3 => v.throughput(),
        _ => None,
    };
    let zone = v.availability_zone().filter(|z| !z.is_empty());
    let at_rest = v.encrypted().unwrap_or(false);
    let kms_key_id = v
        .kms_key_id()
        .filter(|k| at_rest && !k.is_empty())
        .and_then(|k| crate::kms_spelling(ids, k));
    let spec = EbsSpec {
        size_gb: unsigned(v.size()).unwrap_or_default(),
        volume_type,
        iops: unsigned(iops),
        throughput: unsigned(throughput),
        availability_zone: zone
            .filter(|z| Some(*z) != default_zone)
            .map(str::to_string),
        encryption: AtRestEncryption {
            at_rest,
            kms_key_id: kms_key_id.clone(),
        },
        snapshot_id: v
            .snapshot_id()
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        depends_on: Vec::new(),
    };
    let zone_named = spec.availability_zone.is_some();
    Ok(
        Observation::new(outcome(v, arn, kms_key_id.as_deref(), zone_named), spec)
            .unobserved(&["dependsOn"]),
    )
}

impl EbsProvider {
    /// The volume of this component: by recorded id, else by its `Name` and stack tags.
    async fn find_volume(
        &self,
        t: &Target<'_, EbsSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<Volume>, ProviderError> {
        self.volume(t.name, t.tags, ids).await
    }

    /// The volume named `name`: by recorded id, else by its `Name` and stack tags.
    async fn volume(
        &self,
        name: &str,
        panka_tags: &BTreeMap<String, String>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<Volume>, ProviderError> {
        let mut req = self.ec2.describe_volumes();
        req = match ids.get("volume") {
            Some(id) => req.filters(Filter::builder().name("volume-id").values(id).build()),
            None => {
                let mut r = req.filters(Filter::builder().name("tag:Name").values(name).build());
                if let Some(stack) = panka_tags.get("panka:stack") {
                    r = r.filters(
                        Filter::builder()
                            .name("tag:panka:stack")
                            .values(stack)
                            .build(),
                    );
                }
                r
            }
        };
        let found = req
            .send()
            .await
            .map_err(|e| aws_error(format!("looking for EBS volume {name}"), e))?;
        Ok(found
            .volumes()
            .iter()
            .find(|v| {
                v.state()
                    .is_none_or(|s| s.as_str() != "deleting" && s.as_str() != "deleted")
            })
            .cloned())
    }

    async fn wait_available(&self, id: &str) -> Result<Volume, ProviderError> {
        let waited = self
            .ec2
            .wait_until_volume_available()
            .volume_ids(id)
            .wait(AVAILABLE_TIMEOUT)
            .await
            .map_err(|e| {
                ProviderError::with_source(
                    ErrorKind::Timeout,
                    format!("waiting for EBS volume {id} to become available"),
                    e,
                )
            })?;
        waited
            .into_result()
            .ok()
            .and_then(|r| r.volumes().first().cloned())
            .ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::NotFound,
                    format!("EBS volume {id} vanished while becoming available"),
                )
            })
    }

    async fn zone(&self, spec: &EbsSpec) -> Result<String, ProviderError> {
        match &spec.availability_zone {
            Some(z) => Ok(z.clone()),
            None => self.first_zone().await,
        }
    }

    /// The zone a volume goes to when its spec names none: the region's first.
    async fn first_zone(&self) -> Result<String, ProviderError> {
        let zones = self
            .ec2
            .describe_availability_zones()
            .send()
            .await
            .map_err(|e| aws_error("listing Availability Zones", e))?;
        let mut names: Vec<String> = zones
            .availability_zones()
            .iter()
            .filter_map(|z| z.zone_name().map(str::to_string))
            .collect();
        names.sort();
        names.into_iter().next().ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Invalid,
                "the region has no Availability Zone to put the volume in",
            )
        })
    }
}

impl KindProvider for EbsProvider {
    type Spec = EbsSpec;
    const KIND: &'static str = "EBS";
    const UNOBSERVABLE: &'static [Unobservable] = &[crate::DEPENDS_ON];

    /// A gp3 volume whose spec names no IOPS or throughput gets EBS's baseline (3,000 IOPS,
    /// 125 MiB/s): that is AWS's setting, not drift. Any other value is.
    fn managed_by_aws(recorded: &EbsSpec, live: &EbsSpec) -> Vec<&'static str> {
        let gp3 = live.volume_type == EbsVolumeType::Gp3;
        let mut managed = Vec::new();
        if gp3 && recorded.iops.is_none() && live.iops == Some(GP3_IOPS as u32) {
            managed.push("iops");
        }
        if gp3 && recorded.throughput.is_none() && live.throughput == Some(GP3_THROUGHPUT as u32) {
            managed.push("throughput");
        }
        managed
    }

    async fn create(&self, t: &Target<'_, EbsSpec>) -> Result<Outcome, ProviderError> {
        if let Some(v) = self.find_volume(t, &BTreeMap::new()).await? {
            // Created by a run that did not finish.
            let id = v.volume_id().unwrap_or_default().to_string();
            let v = self.wait_available(&id).await?;
            let arn = volume_arn(t.region, self.account().await?, &id);
            return Ok(outcome(
                &v,
                arn,
                t.spec.encryption.kms_key_id.as_deref(),
                t.spec.availability_zone.is_some(),
            ));
        }
        let s = &t.spec;
        let created = self
            .ec2
            .create_volume()
            .availability_zone(self.zone(s).await?)
            .size(s.size_gb as i32)
            .volume_type(volume_type(s.volume_type))
            .set_iops(s.iops.map(|i| i as i32))
            .set_throughput(s.throughput.map(|i| i as i32))
            .encrypted(s.encryption.at_rest)
            .set_kms_key_id(s.encryption.kms_key_id.clone())
            .set_snapshot_id(s.snapshot_id.clone())
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Volume)
                    .set_tags(Some(tags(t.name, t.tags)))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws_error(format!("creating EBS volume {}", t.name), e))?;
        let id = created.volume_id().unwrap_or_default().to_string();
        let v = self.wait_available(&id).await?;
        let arn = volume_arn(t.region, self.account().await?, &id);
        Ok(outcome(
            &v,
            arn,
            s.encryption.kms_key_id.as_deref(),
            s.availability_zone.is_some(),
        ))
    }

    async fn read(&self, id: &Identity<'_>) -> Result<Option<Observation<EbsSpec>>, ProviderError> {
        let Some(v) = self.volume(id.name, id.tags, id.ids).await? else {
            return Ok(None);
        };
        let volume_id = v.volume_id().unwrap_or_default();
        let arn = match id
            .outputs
            .get("arn")
            .filter(|a| a.ends_with(&format!("volume/{volume_id}")))
        {
            Some(arn) => arn.clone(),
            None => volume_arn(id.region, self.account().await?, volume_id),
        };
        // States written before the zone's origin was recorded: the zone panka would pick now.
        let default_zone = match (id.ids.get("defaultZone"), id.ids.get("namedZone")) {
            (Some(z), _) => Some(z.clone()),
            (None, Some(_)) => None,
            (None, None) => Some(self.first_zone().await?),
        };
        observe(&v, id.ids, default_zone.as_deref(), arn).map(Some)
    }

    async fn update(
        &self,
        t: &Target<'_, EbsSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        let s = &t.spec;
        let v = self.find_volume(t, ids).await?.ok_or_else(|| {
            ProviderError::new(
                ErrorKind::NotFound,
                format!("EBS volume {} does not exist", t.name),
            )
        })?;
        let id = v.volume_id().unwrap_or_default().to_string();
        let size = v.size().unwrap_or_default();
        if (s.size_gb as i32) < size {
            return Err(ProviderError::new(
                ErrorKind::Invalid,
                format!(
                    "EBS volume {} is {size} GiB; EBS cannot shrink it to {} GiB (make a new \
                     component and copy the data, or keep the size)",
                    t.name, s.size_gb
                ),
            ));
        }
        let changed = (s.size_gb as i32) != size
            || v.volume_type() != Some(&volume_type(s.volume_type))
            || s.iops.is_some_and(|i| v.iops() != Some(i as i32))
            || s.throughput
                .is_some_and(|x| v.throughput() != Some(x as i32));
        if changed {
            self.ec2
                .modify_volume()
                .volume_id(&id)
                .size(s.size_gb as i32)
                .volume_type(volume_type(s.volume_type))
                .set_iops(s.iops.map(|i| i as i32))
                .set_throughput(s.throughput.map(|i| i as i32))
                .send()
                .await
                .map_err(|e| aws_error(format!("modifying EBS volume {}", t.name), e))?;
        }
        self.ec2
            .create_tags()
            .resources(&id)
            .set_tags(Some(tags(t.name, t.tags)))
            .send()
            .await
            .map_err(|e| aws_error(format!("tagging EBS volume {}", t.name), e))?;
        // A modified volume stays usable ("in-use" or "available") while EBS optimizes it.
        let v = self.find_volume(t, ids).await?.unwrap_or(v);
        let arn = volume_arn(t.region, self.account().await?, &id);
        Ok(outcome(
            &v,
            arn,
            s.encryption.kms_key_id.as_deref(),
            s.availability_zone.is_some(),
        ))
    }

    async fn delete(
        &self,
        name: &str,
        _spec: Option<EbsSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        let Some(id) = ids.get("volume") else {
            return Ok(());
        };
        let deleted = self.ec2.delete_volume().volume_id(id).send().await;
        if let Err(e) = &deleted
            && e.as_service_error()
                .and_then(aws_sdk_ec2::error::ProvideErrorMetadata::code)
                == Some("VolumeInUse")
        {
            return Err(ProviderError::new(
                ErrorKind::Conflict,
                format!("EBS volume {name} ({id}) is attached to an instance; detach it first"),
            ));
        }
        unless_gone(
            deleted,
            |e| aws_sdk_ec2::error::ProvideErrorMetadata::code(e) == Some("InvalidVolume.NotFound"),
            format!("deleting EBS volume {name}"),
        )
    }

    async fn health(
        &self,
        t: &Target<'_, EbsSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        Ok(self.find_volume(t, ids).await?.map(|v| {
            format!(
                "{} · {} GiB {}{}",
                v.state().map(|s| s.as_str()).unwrap_or("unknown"),
                v.size().unwrap_or_default(),
                v.volume_type().map(|t| t.as_str()).unwrap_or("?"),
                if v.attachments().is_empty() {
                    String::new()
                } else {
                    format!(
                        " · attached to {}",
                        v.attachments()
                            .iter()
                            .filter_map(|a| a.instance_id())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            )
        }))
    }

    async fn find(&self, t: &Target<'_, EbsSpec>) -> Result<Option<Outcome>, ProviderError> {
        let Some(v) = self.find_volume(t, &BTreeMap::new()).await? else {
            return Ok(None);
        };
        let arn = volume_arn(
            t.region,
            self.account().await?,
            v.volume_id().unwrap_or_default(),
        );
        Ok(Some(outcome(
            &v,
            arn,
            t.spec.encryption.kms_key_id.as_deref(),
            t.spec.availability_zone.is_some(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::operation::describe_availability_zones::DescribeAvailabilityZonesOutput;
    use aws_sdk_ec2::operation::describe_volumes::DescribeVolumesOutput;
    use aws_sdk_ec2::types::{AvailabilityZone, VolumeState};
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use serde_json::{Value, json};

    const NAME: &str = "shop-dev-data-volume";
    const VOLUME: &str = "vol-0123456789abcdef0";
    const ARN: &str = "arn:aws:ec2:us-east-1:123456789012:volume/vol-0123456789abcdef0";
    const KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/1a2b3c4d";
    /// The ARN of the account's `aws/ebs` key, which EBS uses when the spec names no key.
    const DEFAULT_KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/aws-ebs-default";

    fn full_spec() -> Value {
        json!({
            "sizeGB": 200,
            "type": "gp3",
            "iops": 6000,
            "throughput": 250,
            "availabilityZone": "us-east-1c",
            "encryption": {"atRest": true, "kmsKeyId": "alias/volumes"},
            "snapshotId": "snap-0fedcba9876543210"
        })
    }

    fn spec_of(v: Value) -> EbsSpec {
        serde_json::from_value(v).unwrap()
    }

    /// What DescribeVolumes answers for a volume made from `spec` by the CreateVolume request:
    /// what was sent, with EBS's baselines where nothing was asked for (gp3: 3,000 IOPS and
    /// 125 MiB/s; gp2: 3 IOPS per GiB), the default key's ARN, and `""` for no snapshot.
    /// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVolumes.html
    /// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Volume.html
    fn volume(spec: &EbsSpec) -> Volume {
        let t = volume_type(spec.volume_type);
        let size = spec.size_gb as i32;
        let iops = match spec.volume_type {
            EbsVolumeType::Gp3 => Some(spec.iops.map_or(GP3_IOPS, |i| i as i32)),
            EbsVolumeType::Gp2 => Some((size * 3).max(100)),
            EbsVolumeType::Io1 | EbsVolumeType::Io2 => spec.iops.map(|i| i as i32),
            _ => None,
        };
        let throughput = (spec.volume_type == EbsVolumeType::Gp3)
            .then(|| spec.throughput.map_or(GP3_THROUGHPUT, |t| t as i32));
        let key = spec.encryption.at_rest.then(|| {
            match spec.encryption.kms_key_id.as_deref() {
                Some("alias/volumes") => KEY_ARN,
                Some(k) => k,
                None => DEFAULT_KEY_ARN,
            }
            .to_string()
        });
        Volume::builder()
            .volume_id(VOLUME)
            .size(size)
            .volume_type(t)
            .set_iops(iops)
            .set_throughput(throughput)
            .availability_zone(spec.availability_zone.as_deref().unwrap_or("us-east-1a"))
            .encrypted(spec.encryption.at_rest)
            .set_kms_key_id(key)
            .snapshot_id(spec.snapshot_id.as_deref().unwrap_or_default())
            .state(VolumeState::Available)
            .set_tags(Some(tags(NAME, &BTreeMap::new())))
            .build()
    }

    fn describe(v: Option<Volume>) -> Rule {
        mock!(Client::describe_volumes).then_output(move || {
            DescribeVolumesOutput::builder()
                .set_volumes(Some(v.iter().cloned().collect()))
                .build()
        })
    }

    fn zones() -> Rule {
        mock!(Client::describe_availability_zones).then_output(|| {
            DescribeAvailabilityZonesOutput::builder()
                .availability_zones(AvailabilityZone::builder().zone_name("us-east-1b").build())
                .availability_zones(AvailabilityZone::builder().zone_name("us-east-1a").build())
                .build()
        })
    }

    async fn read(rules: &[&Rule], ids: &BTreeMap<String, String>) -> Option<Observation<EbsSpec>> {
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, rules);
        // STS is not asked: the ARN is a recorded output.
        let no_rules: [&Rule; 0] = [];
        let sts = mock_client!(aws_sdk_sts, RuleMode::MatchAny, no_rules);
        let outputs = BTreeMap::from([("arn".to_string(), ARN.to_string())]);
        let id = crate::test_identity("data/volume", NAME, ids, &outputs);
        EbsProvider::new(ec2, sts).read(&id).await.unwrap()
    }

    /// The ids panka records for a volume made from the full spec.
    fn full_ids() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("volume".to_string(), VOLUME.to_string()),
            ("kmsKey".to_string(), "alias/volumes".to_string()),
            ("kmsKeyArn".to_string(), KEY_ARN.to_string()),
            ("namedZone".to_string(), "us-east-1c".to_string()),
        ])
    }

    async fn read_back(spec: &EbsSpec) -> Observation<EbsSpec> {
        read(&[&describe(Some(volume(spec)))], &full_ids())
            .await
            .unwrap()
    }

    fn set(v: &mut Value, pointer: &str, value: Value) {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        match v.pointer_mut(parent).unwrap() {
            Value::Object(m) => {
                m.insert(key.to_string(), value);
            }
            _ => panic!("{pointer} is not in an object"),
        }
    }

    #[tokio::test]
    async fn a_volume_made_from_a_full_spec_reads_back_as_that_spec() {
        let spec = spec_of(full_spec());
        let seen = read_back(&spec).await;
        assert_eq!(seen.spec, spec);
        assert_eq!(seen.unobserved, ["dependsOn"]);
        assert_eq!(seen.outcome.physical_ids, full_ids());
        assert_eq!(seen.outcome.outputs["arn"], ARN);
        assert_eq!(seen.outcome.outputs["availabilityZone"], "us-east-1c");
        // The smallest spec: EBS's gp3 baselines (AWS's to set), the default key, the zone
        // panka chose.
        let plain = spec_of(json!({"sizeGB": 20}));
        let ids = BTreeMap::from([
            ("volume".to_string(), VOLUME.to_string()),
            ("kmsKeyArn".to_string(), DEFAULT_KEY_ARN.to_string()),
            ("defaultZone".to_string(), "us-east-1a".to_string()),
        ]);
        let seen = read(&[&describe(Some(volume(&plain)))], &ids)
            .await
            .unwrap();
        assert_eq!(
            EbsProvider::managed_by_aws(&plain, &seen.spec),
            ["iops", "throughput"]
        );
        let baseline = EbsSpec {
            iops: Some(3000),
            throughput: Some(125),
            ..plain.clone()
        };
        assert_eq!(seen.spec, baseline);
        assert_eq!(seen.outcome.physical_ids, ids);
        // A state recorded before the zone's origin: the region's first zone is the default.
        let old = BTreeMap::from([("volume".to_string(), VOLUME.to_string())]);
        let seen = read(&[&describe(Some(volume(&plain))), &zones()], &old)
            .await
            .unwrap();
        assert_eq!(seen.spec.availability_zone, None);
    }

    #[tokio::test]
    async fn each_setting_changed_in_aws_reads_back_as_exactly_that_field() {
        let cases: Vec<Vec<(&str, Value)>> = vec![
            vec![("/sizeGB", 300.into())],
            // io2 takes no throughput.
            vec![("/type", "io2".into()), ("/throughput", Value::Null)],
            // gp2 takes neither IOPS nor throughput (EBS reports its baseline IOPS).
            vec![
                ("/type", "gp2".into()),
                ("/iops", Value::Null),
                ("/throughput", Value::Null),
            ],
            vec![("/iops", 7000.into())],
            // Back to gp3's baselines.
            vec![("/iops", 3000.into())],
            vec![("/throughput", 500.into())],
            vec![("/throughput", 125.into())],
            vec![("/availabilityZone", "us-east-1d".into())],
            // Another key, or EBS's default key: reported as its ARN.
            vec![("/encryption/kmsKeyId", DEFAULT_KEY_ARN.into())],
            vec![("/encryption", json!({"atRest": false}))],
            vec![("/snapshotId", "snap-0aaaaaaaaaaaaaaaa".into())],
            vec![("/snapshotId", Value::Null)],
        ];
        let full = serde_json::to_value(spec_of(full_spec())).unwrap();
        for changes in cases {
            let mut changed = full_spec();
            for (pointer, value) in &changes {
                set(&mut changed, pointer, value.clone());
            }
            let expected = serde_json::to_value(spec_of(changed.clone())).unwrap();
            assert_ne!(expected, full, "{changes:?} changes the spec");
            let seen = read_back(&spec_of(changed)).await;
            assert_eq!(
                serde_json::to_value(seen.spec).unwrap(),
                expected,
                "{changes:?}: only that differs"
            );
        }
    }

    #[test]
    fn gp3_baselines_are_aws_managed_only_when_the_spec_names_none() {
        let live = spec_of(json!({"sizeGB": 20, "iops": 3000, "throughput": 125}));
        let unset = spec_of(json!({"sizeGB": 20}));
        assert_eq!(
            EbsProvider::managed_by_aws(&unset, &live),
            ["iops", "throughput"]
        );
        // Named in the spec: compared as any setting.
        assert!(EbsProvider::managed_by_aws(&live, &live).is_empty());
        // Raised outside panka: drift, not AWS's doing.
        let raised = spec_of(json!({"sizeGB": 20, "iops": 4000, "throughput": 200}));
        assert!(EbsProvider::managed_by_aws(&unset, &raised).is_empty());
        // Only gp3 has baselines of its own.
        let io2 = spec_of(json!({"sizeGB": 20, "type": "io2", "iops": 3000}));
        let io2_unset = spec_of(json!({"sizeGB": 20, "type": "io2"}));
        assert!(EbsProvider::managed_by_aws(&io2_unset, &io2).is_empty());
    }

    #[tokio::test]
    async fn a_volume_gone_from_aws_reads_as_absent() {
        let ids = full_ids();
        assert!(read(&[&describe(None)], &ids).await.is_none());
        // Being deleted counts as gone.
        let mut deleting = volume(&spec_of(full_spec()));
        deleting.state = Some(VolumeState::Deleting);
        assert!(read(&[&describe(Some(deleting))], &ids).await.is_none());
    }
}
