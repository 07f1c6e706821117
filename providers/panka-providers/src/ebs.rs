//! EBS volumes: a volume in the Availability Zone asked for (or the region's first), of the type,
//! size, IOPS and throughput asked for, encrypted unless told otherwise, optionally from a
//! snapshot. EBS volumes have no name: panka tags the volume `Name` = its AWS name and finds it
//! again by that tag with the stack's. Size grows in place (EBS never shrinks a volume: a smaller
//! size is refused with a message); type, IOPS and throughput change in place; zone, encryption
//! and snapshot force replacement. Outputs: `volumeId`, `arn`, `availabilityZone`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::client::Waiters;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification, Volume, VolumeType};
use panka_engine::provider::Outcome;
use panka_engine::{ErrorKind, KindProvider, Observed, ProviderError, Target};
use panka_format::kinds::{EbsSpec, EbsVolumeType};
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

fn outcome(v: &Volume, region: &str, account: &str) -> Outcome {
    let id = v.volume_id().unwrap_or_default();
    let arn = format!("arn:aws:ec2:{region}:{account}:volume/{id}");
    Outcome {
        physical_ids: BTreeMap::from([("volume".to_string(), id.to_string())]),
        outputs: BTreeMap::from([
            ("volumeId".to_string(), id.to_string()),
            ("arn".to_string(), arn),
            (
                "availabilityZone".to_string(),
                v.availability_zone().unwrap_or_default().to_string(),
            ),
        ]),
    }
}

impl EbsProvider {
    /// The volume of this component: by recorded id, else by its `Name` and stack tags.
    async fn find_volume(
        &self,
        t: &Target<'_, EbsSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<Volume>, ProviderError> {
        let mut req = self.ec2.describe_volumes();
        req = match ids.get("volume") {
            Some(id) => req.filters(Filter::builder().name("volume-id").values(id).build()),
            None => {
                let mut r = req.filters(Filter::builder().name("tag:Name").values(t.name).build());
                if let Some(stack) = t.tags.get("panka:stack") {
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
            .map_err(|e| aws_error(format!("looking for EBS volume {}", t.name), e))?;
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
        if let Some(z) = &spec.availability_zone {
            return Ok(z.clone());
        }
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

    async fn create(&self, t: &Target<'_, EbsSpec>) -> Result<Outcome, ProviderError> {
        if let Some(v) = self.find_volume(t, &BTreeMap::new()).await? {
            // Created by a run that did not finish.
            let id = v.volume_id().unwrap_or_default().to_string();
            let v = self.wait_available(&id).await?;
            return Ok(outcome(&v, t.region, self.account().await?));
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
        Ok(outcome(&v, t.region, self.account().await?))
    }

    async fn read(
        &self,
        t: &Target<'_, EbsSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<Observed>, ProviderError> {
        let Some(v) = self.find_volume(t, ids).await? else {
            return Ok(None);
        };
        let mut spec = serde_json::to_value(&t.spec).unwrap_or_default();
        if let Some(size) = v.size() {
            spec["sizeGB"] = size.into();
        }
        if let Some(ty) = v.volume_type() {
            spec["type"] = ty.as_str().into();
        }
        if t.spec.iops.is_some()
            && let Some(iops) = v.iops()
        {
            spec["iops"] = iops.into();
        }
        if t.spec.throughput.is_some()
            && let Some(tp) = v.throughput()
        {
            spec["throughput"] = tp.into();
        }
        if t.spec.availability_zone.is_some()
            && let Some(z) = v.availability_zone()
        {
            spec["availabilityZone"] = z.into();
        }
        if let Some(e) = v.encrypted() {
            spec["encryption"]["atRest"] = e.into();
        }
        Ok(Some(Observed {
            outcome: outcome(&v, t.region, self.account().await?),
            spec,
        }))
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
        Ok(outcome(&v, t.region, self.account().await?))
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
        Ok(Some(outcome(&v, t.region, self.account().await?)))
    }
}
