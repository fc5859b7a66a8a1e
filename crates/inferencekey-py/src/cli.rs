//! The `inferencekey` command. The CLI is the Manager's own; the binding only runs it with the
//! GIL released, so a long-running `serve` never holds up other Python threads.

use pyo3::prelude::*;

/// Runs the CLI with `args` (without the program name) and returns the exit status.
/// `self_command` is how to re-run this CLI (`[sys.executable, "-m", "inferencekey"]`), which
/// the Manager uses to spawn `<self_command> engine …` processes.
#[pyfunction]
fn cli_main(py: Python<'_>, args: Vec<String>, self_command: Vec<String>) -> i32 {
    py.detach(|| inferencekey_manager::cli_main(args, self_command))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(cli_main, m)?)
}
