//! Policies over plans: rules in Rego (the language of Open Policy Agent, v1 syntax) that look
//! at a plan before it is applied and deny it or warn about it.
//!
//! A policy's `input` is the plan document, exactly as `panka plan --output json` prints it
//! (`docs/schema/plan.schema.json`). Every package loaded may define two rules, each a set of
//! messages (or a single message, or `true`):
//!
//! ```rego
//! package shop.guard
//!
//! deny contains msg if {
//!     some a in input.actions
//!     a.action == "delete"
//!     a.stateful
//!     msg := sprintf("%s holds data and would be deleted", [a.address])
//! }
//!
//! warn contains msg if {
//!     input.cost.delta > 500
//!     msg := sprintf("the monthly cost grows by $%.2f", [input.cost.delta])
//! }
//! ```
//!
//! `deny` stops the plan (and the apply); `warn` is shown and the plan goes on. Evaluation is
//! pure: no AWS call, no network, no clock (the HTTP and time built-ins are not compiled in).

use std::path::{Path, PathBuf};

use regorus::{Engine, Value};

/// Why policies could not be loaded or evaluated.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("reading policy {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no .rego file in {}", path.display())]
    NoPolicies { path: PathBuf },
    /// The parser's message names the file, line and column, with the offending line.
    #[error("policy {} does not parse:\n{message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("evaluating `{rule}` of policy package `{package}`: {message}")]
    Eval {
        package: String,
        rule: &'static str,
        message: String,
    },
}

/// A message of a policy rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The package that said it (`shop.guard`).
    pub package: String,
    pub message: String,
}

/// What the policies say of a plan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// `deny` messages: the plan must not be applied.
    pub denials: Vec<Finding>,
    /// `warn` messages: shown, the plan goes on.
    pub warnings: Vec<Finding>,
}

impl Verdict {
    pub fn is_denied(&self) -> bool {
        !self.denials.is_empty()
    }

    /// The findings as lines for a terminal: `deny  PACKAGE: MESSAGE`, `warn  PACKAGE: MESSAGE`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (label, findings) in [("deny", &self.denials), ("warn", &self.warnings)] {
            for f in findings {
                out.push_str(&format!("{label}  {}: {}\n", f.package, f.message));
            }
        }
        out
    }
}

/// Loaded policies, ready to judge plans.
pub struct Policies {
    engine: Engine,
    /// Packages in load order, each once (`data.shop.guard`).
    packages: Vec<String>,
}

impl Policies {
    /// Loads every `.rego` file at `paths`: a file, or a folder searched recursively (files
    /// ending in `_test.rego`, OPA's unit tests, are left out), in name order.
    ///
    /// # Errors
    /// A path that cannot be read, a folder without policies, or a policy that does not parse
    /// (its message names the file, line and column).
    pub fn load(paths: &[PathBuf]) -> Result<Policies, PolicyError> {
        let mut engine = Engine::new();
        let mut packages: Vec<String> = Vec::new();
        for path in paths {
            let files = rego_files(path)?;
            if files.is_empty() {
                return Err(PolicyError::NoPolicies { path: path.clone() });
            }
            for file in files {
                let text = std::fs::read_to_string(&file).map_err(|source| PolicyError::Read {
                    path: file.clone(),
                    source,
                })?;
                let package = engine
                    .add_policy(file.display().to_string(), text)
                    .map_err(|e| PolicyError::Parse {
                        path: file.clone(),
                        message: e.to_string(),
                    })?;
                if !packages.contains(&package) {
                    packages.push(package);
                }
            }
        }
        Ok(Policies { engine, packages })
    }

    /// No policies: every plan passes.
    pub fn none() -> Policies {
        Policies {
            engine: Engine::new(),
            packages: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
    }

    /// Judges the plan document `plan` (the JSON `panka plan --output json` prints).
    ///
    /// # Errors
    /// A rule that fails to evaluate (a built-in given the wrong type, a conflict between rule
    /// bodies), naming the package and the rule.
    pub fn evaluate(&mut self, plan: &serde_json::Value) -> Result<Verdict, PolicyError> {
        let mut verdict = Verdict::default();
        if self.packages.is_empty() {
            return Ok(verdict);
        }
        self.engine.set_input(Value::from(plan.clone()));
        for package in &self.packages {
            for (rule, into) in [
                ("deny", &mut verdict.denials),
                ("warn", &mut verdict.warnings),
            ] {
                let name = package.strip_prefix("data.").unwrap_or(package);
                let eval_error = |message: String| PolicyError::Eval {
                    package: name.to_string(),
                    rule,
                    message,
                };
                let results = self
                    .engine
                    .eval_query(format!("{package}.{rule}"), false)
                    .map_err(|e| eval_error(e.to_string()))?;
                // No result: the package does not define the rule, or it is undefined here.
                let Some(value) = results
                    .result
                    .first()
                    .and_then(|r| r.expressions.first())
                    .map(|e| &e.value)
                else {
                    continue;
                };
                for message in messages(value, rule, name).map_err(eval_error)? {
                    into.push(Finding {
                        package: name.to_string(),
                        message,
                    });
                }
            }
        }
        Ok(verdict)
    }
}

/// The messages a rule's value says: the strings of a set or list, one string, or a bare `true`.
fn messages(value: &Value, rule: &str, package: &str) -> Result<Vec<String>, String> {
    let text = |v: &Value| match v {
        Value::String(s) => Ok(s.to_string()),
        other => other.to_json_str().map_err(|e| e.to_string()),
    };
    match value {
        Value::Set(items) => items.iter().map(text).collect(),
        Value::Array(items) => items.iter().map(text).collect(),
        Value::String(s) => Ok(vec![s.to_string()]),
        Value::Bool(true) => Ok(vec![format!("`{rule}` of {package} holds")]),
        Value::Bool(false) | Value::Undefined | Value::Null => Ok(Vec::new()),
        other => Err(format!(
            "`{rule}` should be a set of messages, not {}",
            other.to_json_str().unwrap_or_default()
        )),
    }
}

/// The policy files at `path`, in name order.
fn rego_files(path: &Path) -> Result<Vec<PathBuf>, PolicyError> {
    let meta = std::fs::metadata(path).map_err(|source| PolicyError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut found = Vec::new();
    let mut folders = vec![path.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries = std::fs::read_dir(&folder).map_err(|source| PolicyError::Read {
            path: folder.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| PolicyError::Read {
                path: folder.clone(),
                source,
            })?;
            let p = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                folders.push(p);
            } else if name.ends_with(".rego") && !name.ends_with("_test.rego") {
                found.push(p);
            }
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    const GUARD: &str = r#"
package shop.guard

deny contains msg if {
    some a in input.actions
    a.action == "delete"
    a.stateful
    msg := sprintf("%s holds data and would be deleted", [a.address])
}

warn contains msg if {
    input.cost.delta > 100
    msg := sprintf("the monthly cost grows by %v USD", [input.cost.delta])
}
"#;

    fn plan(actions: serde_json::Value, delta: f64) -> serde_json::Value {
        json!({"stack": "shop", "environment": "production", "actions": actions,
               "cost": {"delta": delta}})
    }

    #[test]
    fn deny_and_warn_messages_come_from_every_package() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "guard.rego", GUARD);
        write(
            dir.path(),
            "naming/names.rego",
            r#"
package shop.naming

deny contains msg if {
    some a in input.actions
    not regex.match(`^[a-z0-9-]+/[a-z0-9-]+$`, a.address)
    msg := sprintf("%s is not lower-case", [a.address])
}
"#,
        );
        // OPA's unit tests beside the policies are not policies.
        write(
            dir.path(),
            "guard_test.rego",
            "package shop.guard_test\n\nthis does not parse",
        );
        let mut policies = Policies::load(&[dir.path().to_path_buf()]).unwrap();

        let quiet = plan(
            json!([{"address": "orders/db", "action": "no-op", "stateful": true}]),
            0.0,
        );
        assert_eq!(policies.evaluate(&quiet).unwrap(), Verdict::default());

        let risky = plan(
            json!([
                {"address": "orders/db", "action": "delete", "stateful": true},
                {"address": "orders/queue", "action": "delete", "stateful": false},
                {"address": "Orders/Api", "action": "create", "stateful": false},
            ]),
            250.0,
        );
        let verdict = policies.evaluate(&risky).unwrap();
        assert!(verdict.is_denied());
        assert_eq!(
            verdict.denials,
            vec![
                Finding {
                    package: "shop.guard".into(),
                    message: "orders/db holds data and would be deleted".into()
                },
                Finding {
                    package: "shop.naming".into(),
                    message: "Orders/Api is not lower-case".into()
                },
            ]
        );
        assert_eq!(verdict.warnings.len(), 1);
        assert_eq!(
            verdict.warnings[0].message,
            "the monthly cost grows by 250 USD"
        );
        assert!(
            verdict
                .render()
                .contains("deny  shop.guard: orders/db holds data and would be deleted\n")
        );
    }

    #[test]
    fn a_policy_that_does_not_parse_names_its_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "broken.rego",
            "package broken\n\ndeny contains msg if {\n    input.a ==\n}\n",
        );
        let Err(e) = Policies::load(&[file]) else {
            panic!("a broken policy loaded");
        };
        let text = e.to_string();
        assert!(text.contains("broken.rego"), "{text}");
        assert!(text.contains(":5:"), "{text}");
    }

    #[test]
    fn a_folder_without_policies_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "README.md", "nothing here");
        assert!(matches!(
            Policies::load(&[dir.path().to_path_buf()]),
            Err(PolicyError::NoPolicies { .. })
        ));
        assert!(matches!(
            Policies::load(&[dir.path().join("missing.rego")]),
            Err(PolicyError::Read { .. })
        ));
    }

    #[test]
    fn a_rule_of_the_wrong_shape_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "odd.rego", "package odd\n\ndeny := 3\n");
        let mut policies = Policies::load(&[file]).unwrap();
        let Err(e) = policies.evaluate(&plan(json!([]), 0.0)) else {
            panic!("a numeric deny passed");
        };
        assert!(
            e.to_string().contains("`deny` of policy package `odd`"),
            "{e}"
        );
        // A bare `true` denies with a message naming the package.
        let file = write(
            dir.path(),
            "flag.rego",
            "package flag\n\ndeny if input.environment == \"production\"\n",
        );
        let mut policies = Policies::load(&[file]).unwrap();
        let verdict = policies.evaluate(&plan(json!([]), 0.0)).unwrap();
        assert_eq!(verdict.denials[0].message, "`deny` of flag holds");
    }
}
