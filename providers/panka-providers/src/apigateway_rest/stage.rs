//! A REST API's stage (a new deployment with the throttling asked for) and custom domain.

use std::collections::BTreeMap;

use aws_sdk_apigateway::types::{EndpointConfiguration, EndpointType, Op, PatchOperation};
use panka_engine::{ProviderError, Target};
use panka_format::kinds::ApiGatewaySpec;

use super::{RestApis, stage_name};
use crate::errors::{aws_error, check_owner, unless_gone, unless_missing};

impl RestApis {
    /// A new deployment on the stage, with the throttling asked for; other stages and the
    /// deployments no stage uses are deleted.
    pub(super) async fn deploy(
        &self,
        t: &Target<'_, ApiGatewaySpec>,
        id: &str,
    ) -> Result<(), ProviderError> {
        let stage = stage_name(&t.spec);
        let deployment = self
            .api
            .create_deployment()
            .rest_api_id(id)
            .description(format!("panka: {}", t.address))
            .send()
            .await
            .map_err(|e| aws_error(format!("deploying REST API {id}"), e))?
            .id()
            .unwrap_or_default()
            .to_string();
        let stages = self
            .api
            .get_stages()
            .rest_api_id(id)
            .send()
            .await
            .map_err(|e| aws_error(format!("listing the stages of REST API {id}"), e))?;
        let replace = |path: &str, value: String| {
            PatchOperation::builder()
                .op(Op::Replace)
                .path(path)
                .value(value)
                .build()
        };
        let mut patch = Vec::new();
        if stages.item().iter().any(|s| s.stage_name() == Some(stage)) {
            patch.push(replace("/deploymentId", deployment.clone()));
        } else {
            self.api
                .create_stage()
                .rest_api_id(id)
                .stage_name(stage)
                .deployment_id(&deployment)
                .set_tags(Some(t.tags.clone().into_iter().collect()))
                .send()
                .await
                .map_err(|e| aws_error(format!("creating stage {stage} of REST API {id}"), e))?;
        }
        // -1 turns a stage's own throttling off (the account's limits apply).
        let (rate, burst) = t
            .spec
            .throttling
            .as_ref()
            .map_or(("-1".to_string(), "-1".to_string()), |th| {
                (th.rate_limit.to_string(), th.burst_limit.to_string())
            });
        patch.push(replace("/*/*/throttling/rateLimit", rate));
        patch.push(replace("/*/*/throttling/burstLimit", burst));
        self.api
            .update_stage()
            .rest_api_id(id)
            .stage_name(stage)
            .set_patch_operations(Some(patch))
            .send()
            .await
            .map_err(|e| aws_error(format!("updating stage {stage} of REST API {id}"), e))?;
        for old in stages.item().iter().filter_map(|s| s.stage_name()) {
            if old != stage {
                let deleted = self
                    .api
                    .delete_stage()
                    .rest_api_id(id)
                    .stage_name(old)
                    .send()
                    .await;
                unless_gone(
                    deleted,
                    |s| s.is_not_found_exception(),
                    format!("deleting stage {old} of REST API {id}"),
                )?;
            }
        }
        let deployments = self
            .api
            .get_deployments()
            .rest_api_id(id)
            .limit(500)
            .send()
            .await
            .map_err(|e| aws_error(format!("listing the deployments of REST API {id}"), e))?;
        for old in deployments.items().iter().filter_map(|d| d.id()) {
            if old != deployment {
                let deleted = self
                    .api
                    .delete_deployment()
                    .rest_api_id(id)
                    .deployment_id(old)
                    .send()
                    .await;
                unless_gone(
                    deleted,
                    |s| s.is_not_found_exception(),
                    format!("deleting deployment {old} of REST API {id}"),
                )?;
            }
        }
        Ok(())
    }

    /// The custom domain and its mapping to the stage; a domain no longer asked for is removed.
    pub(super) async fn converge_domain(
        &self,
        t: &Target<'_, ApiGatewaySpec>,
        id: &str,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        let wanted = t.spec.domain.as_ref();
        if let Some(old) = ids.get("domain")
            && wanted.is_none_or(|d| &d.name != old)
        {
            self.delete_domain(old).await?;
        }
        let Some(d) = wanted else {
            return Ok(None);
        };
        let found = unless_missing(
            self.api.get_domain_name().domain_name(&d.name).send().await,
            |s| s.is_not_found_exception(),
            format!("reading domain {}", d.name),
        )?;
        // A domain panka did not record is this component's only by its tags.
        if let Some(f) = found
            .as_ref()
            .filter(|_| ids.get("domain") != Some(&d.name))
        {
            let tags = f.tags().cloned().unwrap_or_default();
            check_owner(
                &format!("custom domain {}", d.name),
                t.address,
                tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                t.tags,
            )?;
        }
        let exists = found.is_some();
        if !exists {
            self.api
                .create_domain_name()
                .domain_name(&d.name)
                .regional_certificate_arn(&d.certificate_arn)
                .endpoint_configuration(
                    EndpointConfiguration::builder()
                        .types(EndpointType::Regional)
                        .build(),
                )
                .set_tags(Some(t.tags.clone().into_iter().collect()))
                .send()
                .await
                .map_err(|e| aws_error(format!("creating domain {}", d.name), e))?;
        }
        let stage = stage_name(&t.spec);
        // A domain created just now has no mappings to look through.
        let mapped = exists
            && self
                .api
                .get_base_path_mappings()
                .domain_name(&d.name)
                .send()
                .await
                .map_err(|e| aws_error(format!("listing the mappings of {}", d.name), e))?
                .items()
                .iter()
                .any(|m| m.rest_api_id() == Some(id) && m.stage() == Some(stage));
        if !mapped {
            self.api
                .create_base_path_mapping()
                .domain_name(&d.name)
                .rest_api_id(id)
                .stage(stage)
                .send()
                .await
                .map_err(|e| aws_error(format!("mapping {} to REST API {id}", d.name), e))?;
        }
        Ok(Some(d.name.clone()))
    }

    pub(super) async fn delete_domain(&self, domain: &str) -> Result<(), ProviderError> {
        let deleted = self
            .api
            .delete_domain_name()
            .domain_name(domain)
            .send()
            .await;
        unless_gone(
            deleted,
            |s| s.is_not_found_exception(),
            format!("deleting domain {domain}"),
        )
    }
}
