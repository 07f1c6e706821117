//! The distribution as CloudFront reports it, in the form of its spec.

use std::collections::BTreeMap;

use aws_sdk_cloudfront::types::{
    AllowedMethods as CfMethods, Method, Origin as CfOrigin, OriginProtocolPolicy,
    PriceClass as CfPrice, ViewerProtocolPolicy as CfViewer,
};
use panka_engine::{ErrorKind, Observation, ProviderError};
use panka_format::kinds::{
    AllowedMethods, Behavior, CloudFrontSpec, Origin, PriceClass, ViewerProtocolPolicy,
};

use super::domain::recorded_edge_ids;
use super::{CERTIFICATE, Found, MANAGED_CACHE_POLICIES, origin_url_key, outcome, split_url};

/// A managed cache policy's name by id, or the id.
fn cache_policy_name(id: &str) -> String {
    MANAGED_CACHE_POLICIES
        .iter()
        .find(|(_, i)| *i == id)
        .map_or_else(|| id.to_string(), |(n, _)| (*n).to_string())
}

fn methods_of(m: Option<&CfMethods>) -> AllowedMethods {
    let items = m.map(|m| m.items()).unwrap_or_default();
    if items.iter().any(|x| {
        matches!(
            x,
            Method::Post | Method::Put | Method::Patch | Method::Delete
        )
    }) {
        AllowedMethods::All
    } else if items.contains(&Method::Options) {
        AllowedMethods::GetHeadOptions
    } else {
        AllowedMethods::GetHead
    }
}

fn viewer_of(p: &CfViewer) -> ViewerProtocolPolicy {
    match p {
        CfViewer::HttpsOnly => ViewerProtocolPolicy::HttpsOnly,
        CfViewer::AllowAll => ViewerProtocolPolicy::AllowAll,
        _ => ViewerProtocolPolicy::RedirectToHttps,
    }
}

fn price_of(p: Option<&CfPrice>) -> PriceClass {
    match p {
        Some(CfPrice::PriceClass100) => PriceClass::PriceClass100,
        Some(CfPrice::PriceClass200) => PriceClass::PriceClass200,
        _ => PriceClass::PriceClassAll,
    }
}

fn text(v: Option<&str>) -> Option<String> {
    v.filter(|v| !v.is_empty()).map(str::to_string)
}

/// The origin as CloudFront reports it, in the form of the spec: the inverse of
/// [`place`](super::place) and the origins of [`config`](super::config). A component origin is
/// reported by what it resolved to — the bucket's regional domain, the load balancer's DNS name, or
/// the URL recorded under `originUrl.NAME` when the origin still is at it — in the `target`
/// position; the engine puts the reference back when that is what it resolves to now.
fn origin_of(o: &CfOrigin, ids: &BTreeMap<String, String>) -> Origin {
    let name = o.id().to_string();
    let domain = o.domain_name().to_string();
    let path = o.origin_path().unwrap_or_default().to_string();
    let custom = o.custom_origin_config();
    let https =
        custom.is_none_or(|c| *c.origin_protocol_policy() != OriginProtocolPolicy::HttpOnly);
    let target = |component: String, path: String| Origin {
        name: name.clone(),
        target: Some(panka_format::kinds::Target { component }),
        domain_name: None,
        path: text(Some(&path)),
    };
    if let Some(url) = ids.get(&origin_url_key(&name)) {
        let (was_https, was_domain, prefix) = split_url(url);
        if let Some(rest) = path.strip_prefix(&prefix)
            && was_https == https
            && was_domain == domain
        {
            return target(url.clone(), rest.to_string());
        }
        let scheme = if https { "https" } else { "http" };
        return target(format!("{scheme}://{domain}{path}"), String::new());
    }
    if custom.is_none() || !https {
        // A bucket (S3 origin) or a load balancer (HTTP): by its domain.
        return target(domain, path);
    }
    Origin {
        name,
        target: None,
        domain_name: Some(domain),
        path: text(Some(&path)),
    }
}

/// The distribution as CloudFront reports it (GetDistribution), in the form of the spec: the
/// inverse of [`config`](super::config). Managed cache policies are named, CloudFront's defaults
/// and empty strings read as absent.
pub(super) fn observe(
    d: &aws_sdk_cloudfront::types::Distribution,
    ids: &BTreeMap<String, String>,
) -> Result<Observation<CloudFrontSpec>, ProviderError> {
    let c = d.distribution_config().ok_or_else(|| {
        ProviderError::new(
            ErrorKind::Invalid,
            format!(
                "CloudFront returned distribution {} without its configuration",
                d.id()
            ),
        )
    })?;
    let mut unobserved = vec!["dependsOn"];
    let mut policy = |id: Option<&str>, path: &'static str| match text(id) {
        Some(id) => cache_policy_name(&id),
        None => {
            unobserved.push(path);
            MANAGED_CACHE_POLICIES[0].0.to_string()
        }
    };
    let origins: Vec<CfOrigin> = c.origins().map(|o| o.items().to_vec()).unwrap_or_default();
    let default_behavior = match c.default_cache_behavior() {
        Some(b) => Behavior {
            path_pattern: None,
            origin: b.target_origin_id().to_string(),
            viewer_protocol_policy: viewer_of(b.viewer_protocol_policy()),
            allowed_methods: methods_of(b.allowed_methods()),
            cache_policy: policy(b.cache_policy_id(), "defaultBehavior.cachePolicy"),
            compress: b.compress().unwrap_or(false),
        },
        None => {
            return Err(ProviderError::new(
                ErrorKind::Invalid,
                format!(
                    "CloudFront returned distribution {} without a default behaviour",
                    d.id()
                ),
            ));
        }
    };
    let behaviors = c
        .cache_behaviors()
        .map(|b| b.items().to_vec())
        .unwrap_or_default()
        .iter()
        .map(|b| Behavior {
            path_pattern: Some(b.path_pattern().to_string()),
            origin: b.target_origin_id().to_string(),
            viewer_protocol_policy: viewer_of(b.viewer_protocol_policy()),
            allowed_methods: methods_of(b.allowed_methods()),
            cache_policy: policy(b.cache_policy_id(), "behaviors[].cachePolicy"),
            compress: b.compress().unwrap_or(false),
        })
        .collect();
    let spec = CloudFrontSpec {
        origins: origins.iter().map(|o| origin_of(o, ids)).collect(),
        default_behavior,
        behaviors,
        aliases: c.aliases().map(|a| a.items().to_vec()).unwrap_or_default(),
        // The domain's certificate is panka's own (recorded under `certificate`), not the spec's.
        certificate_arn: text(c.viewer_certificate().and_then(|v| v.acm_certificate_arn()))
            .filter(|arn| ids.get(CERTIFICATE) != Some(arn)),
        price_class: price_of(c.price_class()),
        default_root_object: text(c.default_root_object()),
        enabled: c.enabled(),
        web_acl_arn: text(c.web_acl_id()),
        depends_on: Vec::new(),
    };
    let oac = origins
        .iter()
        .find_map(|o| text(o.origin_access_control_id()))
        .or_else(|| ids.get("originAccessControl").cloned());
    let urls: Vec<(String, String)> = ids
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("originUrl.")?.to_string(), v.clone())))
        .collect();
    let found = Found {
        id: d.id().to_string(),
        arn: d.arn().to_string(),
        domain: d.domain_name().to_string(),
        status: d.status().to_string(),
    };
    unobserved.dedup();
    let mut outcome = outcome(&found, oac.as_deref(), &urls);
    outcome.physical_ids.extend(recorded_edge_ids(ids));
    Ok(Observation::new(outcome, spec).unobserved(&unobserved))
}
