//! The order of the stack's routes on its shared Application Load Balancer: the listener-rule
//! priority of every public MicroService port, computed from the whole stack.
//!
//! An ALB evaluates a listener's rules from the lowest priority number up and the first match
//! wins, so a rule matching everything (`/*`) placed before `/orders/*` swallows its traffic
//! (<https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-rules.html>:
//! "Rules are evaluated in priority order, from the lowest value to the highest value").
//! Every MicroService of a stack shares the load balancer's listeners, so the order is global:
//!
//! - a port without `priority` gets one derived from how specific its route is: routes are put
//!   in [`BANDS`] bands of [`BAND_WIDTH`] priorities, the most specific first: longer literal
//!   path prefixes (the part before the first `*` or `?`) before shorter ones, and at equal
//!   length a route with a host before one without; then catch-alls, a host with `/*` or no
//!   path, and last `/*` alone. Inside its band a route takes the slot a hash of its address
//!   and port names, moved to the next free one when another route of the stack has it; so a
//!   route keeps its priority when other routes come and go, and priorities are unique.
//! - a port with `priority` keeps it; derived priorities go around it.
//!
//! [`shadowed`] finds the rules another rule makes unreachable (a rule that matches every
//! request the other matches, at a lower number): with derived priorities only identical
//! routes can, with explicit ones any pair can; `panka validate` warns about each.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use sha2::{Digest, Sha256};

use crate::diagnostic::Diagnostic;
use crate::kinds::{ComponentSpec, Port};
use crate::load::RawComponent;
use crate::yaml::PathSeg;

/// Highest priority an ALB listener rule may have.
/// <https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateRule.html>
pub const PRIORITY_MAX: u32 = 50_000;
/// Literal path prefixes longer than this share the most specific band.
const PREFIX_LENGTHS: u32 = 64;
/// Two bands per prefix length (with and without a host), then host catch-alls and catch-alls.
pub const BANDS: u32 = 2 * PREFIX_LENGTHS + 2;
/// Priorities per band: more than the 100 rules a listener holds by default (a quota AWS
/// raises on request), so a band never runs out.
/// <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html>
pub const BAND_WIDTH: u32 = PRIORITY_MAX / BANDS;

/// One public port's listener rule, as the order sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route<'a> {
    /// The component's address (`orders/api`).
    pub address: &'a str,
    /// The port's name.
    pub port: &'a str,
    pub path: Option<&'a str>,
    pub host: Option<&'a str>,
    /// The priority written in the spec, if any.
    pub explicit: Option<u32>,
}

/// The literal start of a path pattern: everything before its first wildcard.
fn literal_prefix(pattern: &str) -> &str {
    pattern
        .find(['*', '?'])
        .map_or(pattern, |at| &pattern[..at])
}

/// Whether a path pattern matches every path (`*`, `/*`, `/**`).
fn is_catch_all(pattern: &str) -> bool {
    pattern.contains('*') && pattern.chars().all(|c| c == '/' || c == '*')
}

/// The band of a route: 0 is evaluated first.
pub fn band(path: Option<&str>, host: Option<&str>) -> u32 {
    match path.filter(|p| !is_catch_all(p)) {
        Some(p) => {
            let length = (literal_prefix(p).chars().count() as u32).clamp(1, PREFIX_LENGTHS);
            (PREFIX_LENGTHS - length) * 2 + u32::from(host.is_none())
        }
        None if host.is_some() => 2 * PREFIX_LENGTHS,
        None => 2 * PREFIX_LENGTHS + 1,
    }
}

/// The priorities of band `band`.
pub fn band_range(band: u32) -> RangeInclusive<u32> {
    let first = band.min(BANDS - 1) * BAND_WIDTH + 1;
    first..=first + BAND_WIDTH - 1
}

/// The band a priority falls in, for a rule that must move: derived priorities stay in the
/// order they were derived for when they move within their band. Priorities above the last
/// band belong to it.
pub fn band_of_priority(priority: u32) -> u32 {
    (priority.saturating_sub(1) / BAND_WIDTH).min(BANDS - 1)
}

/// The slot a route prefers in its band: stable across runs and machines.
fn preferred_slot(address: &str, port: &str) -> u32 {
    let digest = Sha256::digest(format!("{address}#{port}").as_bytes());
    let n = u64::from_be_bytes(digest[..8].try_into().unwrap_or([0; 8]));
    (n % u64::from(BAND_WIDTH)) as u32
}

/// The priority of every route, by (address, port): explicit priorities as written, the others
/// derived (see the module documentation). Routes are placed in address and port order, so the
/// result does not depend on the order they are given in. A band with no free priority left
/// (more than [`BAND_WIDTH`] routes of the same specificity) leaves its extra routes out.
pub fn priorities(routes: &[Route<'_>]) -> BTreeMap<(String, String), u32> {
    let mut taken: BTreeSet<u32> = routes.iter().filter_map(|r| r.explicit).collect();
    let mut out = BTreeMap::new();
    let mut derived: Vec<&Route<'_>> = Vec::new();
    for r in routes {
        match r.explicit {
            Some(p) => {
                out.insert((r.address.to_string(), r.port.to_string()), p);
            }
            None => derived.push(r),
        }
    }
    derived.sort_by(|a, b| (a.address, a.port).cmp(&(b.address, b.port)));
    for r in derived {
        let range = band_range(band(r.path, r.host));
        let start = preferred_slot(r.address, r.port);
        let free = (0..BAND_WIDTH)
            .map(|i| range.start() + (start + i) % BAND_WIDTH)
            .find(|p| !taken.contains(p));
        if let Some(p) = free {
            taken.insert(p);
            out.insert((r.address.to_string(), r.port.to_string()), p);
        }
    }
    out
}

/// Whether a path pattern `a` matches every path pattern `b` matches. Exact for literal
/// patterns and for `PREFIX*` patterns; any other wildcard in `a` answers no (a shadow is then
/// missed, never reported wrongly).
fn pattern_covers(a: &str, b: &str) -> bool {
    if a == b || is_catch_all(a) {
        return true;
    }
    match a.strip_suffix('*') {
        Some(prefix) if !prefix.contains(['*', '?']) => literal_prefix(b).starts_with(prefix),
        _ => false,
    }
}

/// The path patterns a rule matches: the one written, and for `/orders/*` also `/orders`
/// (panka writes both into the rule's condition).
pub fn path_values(path: &str) -> Vec<&str> {
    let mut values = vec![path];
    if let Some(base) = path.strip_suffix("/*")
        && !base.is_empty()
    {
        values.push(base);
    }
    values
}

/// Whether a host-header pattern `a` (`*` and `?` wildcards) matches every host `b` matches.
/// Host headers compare without regard to case.
fn host_covers(a: &str, b: &str) -> bool {
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    if a == b {
        return true;
    }
    !b.contains(['*', '?']) && glob(a.as_bytes(), b.as_bytes())
}

/// `*` (any run of characters) and `?` (one character) matching.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.split_first(), text.split_first()) {
        (None, None) => true,
        (Some((b'*', rest)), _) => {
            glob(rest, text) || text.split_first().is_some_and(|(_, t)| glob(pattern, t))
        }
        (Some((b'?', rest)), Some((_, t))) => glob(rest, t),
        (Some((p, rest)), Some((c, t))) if p == c => glob(rest, t),
        _ => false,
    }
}

/// Whether rule `a` matches every request rule `b` matches.
pub fn covers(a: &Route<'_>, b: &Route<'_>) -> bool {
    let host = match (a.host, b.host) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(x), Some(y)) => host_covers(x, y),
    };
    let path = match (a.path, b.path) {
        (None, _) => true,
        (Some(x), None) => is_catch_all(x),
        (Some(x), Some(y)) => {
            let mine = path_values(x);
            path_values(y)
                .iter()
                .all(|v| mine.iter().any(|m| pattern_covers(m, v)))
        }
    };
    host && path
}

/// The pairs `(a, b)` of indices into `routes` where rule `a`, evaluated first (a lower
/// priority number in `priority`), matches every request rule `b` matches, so `b` is never
/// reached.
pub fn shadowed(
    routes: &[Route<'_>],
    priority: impl Fn(&Route<'_>) -> Option<u32>,
) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    for (i, a) in routes.iter().enumerate() {
        let Some(pa) = priority(a) else { continue };
        for (j, b) in routes.iter().enumerate() {
            if i == j {
                continue;
            }
            let Some(pb) = priority(b) else { continue };
            if pa < pb && covers(a, b) {
                found.push((i, j));
            }
        }
    }
    found
}

/// Orders the routes of the stack's MicroServices: fills in the derived priority of every
/// public port without one, and warns about each rule another makes unreachable, at the
/// shadowed rule with the shadowing one beside it.
pub(crate) fn order_routes(components: &mut [RawComponent], out: &mut Vec<Diagnostic>) {
    struct Found {
        component: usize,
        port: usize,
        address: String,
    }
    let mut found = Vec::new();
    for (ci, c) in components.iter().enumerate() {
        if let Some(ComponentSpec::MicroService(s)) = &c.typed {
            for (pi, _) in s.ports.iter().enumerate().filter(|(_, p)| p.public) {
                found.push(Found {
                    component: ci,
                    port: pi,
                    address: c.address.to_string(),
                });
            }
        }
    }
    let port = |f: &Found| -> Option<&Port> {
        match &components[f.component].typed {
            Some(ComponentSpec::MicroService(s)) => s.ports.get(f.port),
            _ => None,
        }
    };
    let routes: Vec<Route<'_>> = found
        .iter()
        .filter_map(|f| {
            let p = port(f)?;
            Some(Route {
                address: &f.address,
                port: &p.name,
                path: p.path.as_deref(),
                host: p.host.as_deref(),
                explicit: p.priority,
            })
        })
        .collect();
    let chosen = priorities(&routes);
    let of = |r: &Route<'_>| {
        chosen
            .get(&(r.address.to_string(), r.port.to_string()))
            .copied()
    };
    let span = |f: &Found, explicit: bool| {
        let mut at = vec![PathSeg::from("ports"), PathSeg::Index(f.port)];
        if explicit {
            at.push(PathSeg::from("priority"));
        }
        components[f.component].spec.span_of(&at)
    };
    let describe = |r: &Route<'_>| {
        let mut what = Vec::new();
        if let Some(h) = r.host {
            what.push(format!("host `{h}`"));
        }
        if let Some(p) = r.path {
            what.push(format!("path `{p}`"));
        }
        what.join(" and ")
    };
    // Two rules of a listener cannot share a priority: ELB refuses the second
    // (`PriorityInUse`).
    let mut explicit: BTreeMap<u32, usize> = BTreeMap::new();
    for (i, r) in routes.iter().enumerate() {
        let Some(p) = r.explicit else { continue };
        if let Some(&first) = explicit.get(&p) {
            let f = &routes[first];
            out.push(
                Diagnostic::error(
                    "duplicate-name",
                    span(&found[i], true),
                    format!(
                        "listener rule priority {p} is also `{}` port `{}`'s: the stack's routes \
                         share the load balancer's listeners",
                        f.address, f.port
                    ),
                )
                .with_related(span(&found[first], true), "first given here")
                .with_help("give each route its own priority, or leave it out to have one derived"),
            );
        } else {
            explicit.insert(p, i);
        }
    }
    for (a, b) in shadowed(&routes, of) {
        let (ra, rb) = (&routes[a], &routes[b]);
        let (pa, pb) = (of(ra).unwrap_or_default(), of(rb).unwrap_or_default());
        let how = match (ra.explicit.is_some(), rb.explicit.is_some()) {
            (false, false) => "the two routes match the same requests",
            (true, _) => "its explicit priority puts it first",
            (false, true) => "the explicit priority of the second puts it last",
        };
        let d = Diagnostic::warning(
            "route-shadowed",
            span(&found[b], rb.explicit.is_some()),
            format!(
                "the listener rule of `{}` port `{}` ({}, priority {pb}) is never reached: \
                 `{}` port `{}` ({}, priority {pa}) matches every request it matches and is \
                 evaluated first ({how})",
                rb.address,
                rb.port,
                describe(rb),
                ra.address,
                ra.port,
                describe(ra),
            ),
        )
        .with_related(
            span(&found[a], ra.explicit.is_some()),
            format!("`{}` port `{}`, priority {pa}", ra.address, ra.port),
        )
        .with_help(
            "remove the explicit `priority` so that panka orders the routes by specificity, \
             or give the more specific route the lower number",
        );
        out.push(d);
    }
    for f in &found {
        let key = (f.address.clone(), String::new());
        let Some(ComponentSpec::MicroService(s)) = &mut components[f.component].typed else {
            continue;
        };
        let Some(p) = s.ports.get_mut(f.port) else {
            continue;
        };
        if p.priority.is_none() {
            p.priority = chosen.get(&(key.0, p.name.clone())).copied();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn route<'a>(address: &'a str, path: Option<&'a str>, host: Option<&'a str>) -> Route<'a> {
        Route {
            address,
            port: "http",
            path,
            host,
            explicit: None,
        }
    }

    fn priority_of(p: &BTreeMap<(String, String), u32>, address: &str) -> u32 {
        p[&(address.to_string(), "http".to_string())]
    }

    #[test]
    fn catch_alls_come_last_and_longer_prefixes_first() {
        let routes = [
            route("web/site", Some("/*"), None),
            route("catalog/api", Some("/catalog/*"), None),
            route("catalog/items", Some("/catalog/items/*"), None),
            route("admin/ui", None, Some("admin.example.com")),
            route("admin/api", Some("/api/*"), Some("admin.example.com")),
            route("carts/api", Some("/api/*"), None),
        ];
        let p = priorities(&routes);
        let at = |a| priority_of(&p, a);
        assert!(at("catalog/items") < at("catalog/api"));
        assert!(at("catalog/api") < at("admin/api"));
        // Same prefix: the host makes it more specific.
        assert!(at("admin/api") < at("carts/api"));
        // A host alone is a catch-all for that host: after every path, before `/*`.
        assert!(at("carts/api") < at("admin/ui"));
        assert!(at("admin/ui") < at("web/site"));
        assert!(p.values().all(|v| (1..=PRIORITY_MAX).contains(v)));
    }

    #[test]
    fn explicit_priorities_are_kept_and_derived_ones_go_around_them() {
        let mut routes = vec![route("a/x", Some("/a/*"), None)];
        let derived = priority_of(&priorities(&routes), "a/x");
        routes.push(Route {
            explicit: Some(derived),
            ..route("b/y", Some("/b/*"), None)
        });
        let p = priorities(&routes);
        assert_eq!(priority_of(&p, "b/y"), derived);
        assert_ne!(priority_of(&p, "a/x"), derived);
        assert_eq!(
            band_of_priority(priority_of(&p, "a/x")),
            band(Some("/a/*"), None)
        );
    }

    #[test]
    fn bands_hold_their_priorities_in_order() {
        for b in 0..BANDS {
            let r = band_range(b);
            assert_eq!(band_of_priority(*r.start()), b);
            assert_eq!(band_of_priority(*r.end()), b);
            assert!(*r.end() <= PRIORITY_MAX);
        }
        assert_eq!(band_of_priority(PRIORITY_MAX), BANDS - 1);
    }

    #[test]
    fn shadows_are_found_between_rules_that_cover_others() {
        let routes = [
            Route {
                explicit: Some(10),
                ..route("web/site", Some("/*"), None)
            },
            route("orders/api", Some("/orders/*"), None),
            route("admin/api", Some("/orders/*"), Some("admin.example.com")),
            route("mail/api", Some("/mail"), None),
        ];
        let p = priorities(&routes);
        let by_address =
            |r: &Route<'_>| p.get(&(r.address.to_string(), r.port.to_string())).copied();
        let found = shadowed(&routes, by_address);
        assert_eq!(found, [(0, 1), (0, 2), (0, 3)]);
        // Derived priorities alone shadow nothing here.
        let derived: Vec<Route<'_>> = routes
            .iter()
            .map(|r| Route {
                explicit: None,
                ..r.clone()
            })
            .collect();
        let p = priorities(&derived);
        let by_address =
            |r: &Route<'_>| p.get(&(r.address.to_string(), r.port.to_string())).copied();
        assert!(shadowed(&derived, by_address).is_empty());
    }

    #[test]
    fn coverage_reads_prefixes_hosts_and_the_base_path() {
        let r = |path, host| route("s/c", path, host);
        assert!(covers(
            &r(Some("/orders/*"), None),
            &r(Some("/orders/items/*"), None)
        ));
        assert!(!covers(
            &r(Some("/orders/items/*"), None),
            &r(Some("/orders/*"), None)
        ));
        // `/orders/*` also matches `/orders`, which `/orders/?*` does not.
        assert!(!covers(
            &r(Some("/orders/?*"), None),
            &r(Some("/orders/*"), None)
        ));
        assert!(covers(&r(Some("/ord*"), None), &r(Some("/orders/*"), None)));
        assert!(covers(
            &r(None, Some("*.example.com")),
            &r(Some("/x"), Some("API.example.com"))
        ));
        assert!(!covers(
            &r(None, Some("api.example.com")),
            &r(Some("/x"), None)
        ));
        assert!(covers(
            &r(Some("/*"), None),
            &r(None, Some("api.example.com"))
        ));
        assert!(!covers(
            &r(Some("/a/*"), None),
            &r(None, Some("api.example.com"))
        ));
    }

    fn pattern() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("/*".to_string()),
            "(/[a-c]{1,3}){1,4}".prop_map(|p| p),
            "(/[a-c]{1,3}){1,4}".prop_map(|p| format!("{p}/*")),
        ]
    }

    proptest! {
        /// Derived priorities: unique, in range, catch-alls after every other route, a route
        /// with a longer literal prefix before one with a shorter prefix, and the same for any
        /// order the routes are given in.
        #[test]
        fn derived_priorities_follow_specificity(
            paths in proptest::collection::vec((pattern(), proptest::option::of("[a-c]{1,2}\\.example\\.com")), 1..24),
            seed in any::<u64>(),
        ) {
            let addresses: Vec<String> = (0..paths.len()).map(|i| format!("s{i}/c")).collect();
            let routes: Vec<Route<'_>> = paths
                .iter()
                .zip(&addresses)
                .map(|((p, h), a)| route(a, Some(p.as_str()), h.as_deref()))
                .collect();
            let p = priorities(&routes);
            prop_assert_eq!(p.len(), routes.len());
            let unique: BTreeSet<u32> = p.values().copied().collect();
            prop_assert_eq!(unique.len(), p.len());
            let at = |r: &Route<'_>| priority_of(&p, r.address);
            for a in &routes {
                prop_assert!((1..=PRIORITY_MAX).contains(&at(a)));
                for b in &routes {
                    let (pa, pb) = (a.path.unwrap_or_default(), b.path.unwrap_or_default());
                    if is_catch_all(pb) && !is_catch_all(pa) {
                        prop_assert!(at(a) < at(b), "{pa} after catch-all {pb}");
                    }
                    if !is_catch_all(pa) && !is_catch_all(pb)
                        && literal_prefix(pa).len() > literal_prefix(pb).len()
                    {
                        prop_assert!(at(a) < at(b), "{pa} after shorter {pb}");
                    }
                }
            }
            // Stable: the same routes in another order get the same priorities.
            let mut shuffled = routes.clone();
            let n = shuffled.len();
            shuffled.rotate_left((seed % n as u64) as usize);
            shuffled.reverse();
            prop_assert_eq!(priorities(&shuffled), p);
        }
    }
}
