//! `persona-role`: plan persona roles offline, compare declarations, discover roles to migrate,
//! list the catalog, and tighten a declaration by what CloudTrail says its role did.

use std::io::IsTerminal;

use clap::Parser;
use persona_role::cli::{Cli, Terminal, run_with};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Colour only on a terminal, and never when NO_COLOR is set (no-color.org).
    let terminal = Terminal {
        colour: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        progress: std::io::stderr().is_terminal(),
    };
    run_with(
        cli,
        &mut std::io::stdin(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
        terminal,
    )
    .into()
}
