//! `{{name}}`: a weft workflow.
//!
//! weft build                      # -> {{name}}.wasm
//! weft deploy {{name}}.wasm       # registers the workflow type `{{name}}`
//! weft start {{name}} --input '{"name": "world"}' --wait
//! weft start {{name}} --wait      # no input: the defaults below

use weft_sdk::prelude::*;

#[derive(Deserialize)]
#[serde(default)]
struct Input {
    name: String,
}

impl Default for Input {
    fn default() -> Self {
        Input {
            name: "world".into(),
        }
    }
}

#[derive(Default)]
struct Main;

impl Workflow for Main {
    type Input = Input;
    type Output = String;

    fn run(ctx: &mut Ctx<Self>, input: Input) -> Result<String, Failure> {
        // A durable timer: it survives restarts, and a crash here replays
        // the code up to this point without doing anything twice.
        ctx.sleep(Duration::from_secs(1))?;
        // An activity (from an activity component) would be:
        //     let out: String = ctx.activity("{{name}}-acts.hello", &input.name)?;
        Ok(format!("Hello, {}!", input.name))
    }
}

weft_sdk::export_workflow!(Main);
