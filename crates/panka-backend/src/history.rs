//! History entries: one per saved deployment, holding the deployment record and the state
//! it produced, so that `panka state restore --to ID` can bring any of them back.

use panka_state::{Deployment, State};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub deployment: Deployment,
    pub state: State,
}

impl HistoryEntry {
    /// The object's name: serial first so that names sort in order.
    pub fn object_name(&self) -> String {
        format!("{:012}-{}.json", self.state.serial, self.deployment.id)
    }
}
