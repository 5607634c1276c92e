//! The JSON shapes of the API, with their OpenAPI schemas: one module per
//! route group.

mod clock;
mod executions;
mod interact;
mod modules;
mod schedules;
mod tasks;
mod versions;

pub use clock::*;
pub use executions::*;
pub use interact::*;
pub use modules::*;
pub use schedules::*;
pub use tasks::*;
pub use versions::*;
