//! `persona-role`: plan persona roles offline and list the catalog.

use clap::Parser;
use persona_role::cli::{Cli, run};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let code = run(
        cli,
        &mut std::io::stdin(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    );
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
