//! `rosterkit completions <shell>`: a completion script on stdout.

use std::io::Write;

use clap::Args;
use clap_complete::Shell;

use crate::commands::Exit;

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell: bash, zsh, fish (also elvish, powershell).
    ///
    /// bash: `rosterkit completions bash > ~/.local/share/bash-completion/completions/rosterkit`;
    /// zsh: into a directory on `$fpath` as `_rosterkit`;
    /// fish: `rosterkit completions fish > ~/.config/fish/completions/rosterkit.fish`.
    #[arg(value_enum)]
    pub(crate) shell: Shell,
}

pub(crate) fn run(args: &CompletionsArgs) -> Exit {
    let mut command = crate::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "rosterkit", &mut script);
    let mut out = std::io::stdout().lock();
    match out.write_all(&script).and_then(|()| out.flush()) {
        Ok(()) => Exit::Ok,
        Err(e) => {
            crate::eprint_line(&format!("error: writing the completion script: {e}"));
            Exit::Failed
        }
    }
}
