//! The one place that knows how output is shown: workflow commands inside
//! Actions (annotations, masks), plain lines on a terminal. Everything the
//! wiring prints about a run goes through a [`Printer`].

use secrecy::SecretString;

use crate::actions::{self, Level, Location};
use crate::config::Style;
use crate::diag::Diagnostic;
use crate::diag::{Finding, Severity};
use crate::exit::Exit;

#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub style: Style,
}

impl Printer {
    pub fn new(style: Style) -> Printer {
        Printer { style }
    }

    /// A problem with how the tool was called; returns its exit code.
    pub fn usage_error(&self, msg: &str) -> Exit {
        match self.style {
            Style::Actions => println!("{}", actions::annotation(Level::Error, None, "secret-sync", msg)),
            Style::Terminal => eprintln!("error: {}", crate::escape::terminal(msg)),
        }
        Exit::Usage
    }

    pub fn warning(&self, title: &str, msg: &str) {
        match self.style {
            Style::Actions => {
                println!("{}", actions::annotation(Level::Warning, None, &format!("secret-sync {title}"), msg))
            }
            Style::Terminal => eprintln!("warning: {}", crate::escape::terminal(msg)),
        }
    }

    pub fn notice(&self, title: &str, msg: &str) {
        match self.style {
            Style::Actions => {
                println!("{}", actions::annotation(Level::Notice, None, &format!("secret-sync {title}"), msg))
            }
            Style::Terminal => eprintln!("notice: {}", crate::escape::terminal(msg)),
        }
    }

    /// Registers values with the runner's masking before anything else is
    /// printed (Actions only: a terminal has no masking).
    pub fn masks<'a>(
        &self,
        lines: impl IntoIterator<Item = String>,
        tokens: impl IntoIterator<Item = &'a SecretString>,
    ) {
        if self.style != Style::Actions {
            return;
        }
        for line in lines {
            println!("{line}");
        }
        for t in tokens {
            for line in actions::mask_lines(t) {
                println!("{line}");
            }
        }
    }

    /// Workflow commands made elsewhere (leak annotations on files): Actions only.
    pub fn annotations(&self, lines: impl IntoIterator<Item = String>) {
        if self.style == Style::Actions {
            for line in lines {
                println!("{line}");
            }
        }
    }

    /// Manifest errors: annotations at their place, or `file:line:col` lines.
    pub fn diagnostics(&self, diags: &[Diagnostic]) {
        for d in diags {
            match self.style {
                Style::Actions => println!("{}", d.annotation()),
                Style::Terminal => eprintln!("{}", d.terminal()),
            }
        }
    }

    /// Findings as annotations on the manifest (Actions only; the summary
    /// lists them everywhere).
    pub fn findings(&self, findings: &[Finding], manifest: &str) {
        if self.style != Style::Actions {
            return;
        }
        for f in findings {
            let level = match f.severity {
                Severity::Error => Level::Error,
                Severity::Warning => Level::Warning,
                Severity::Notice => Level::Notice,
            };
            let loc = crate::validate::finding_pos(f).map(|p| Location {
                file: manifest.to_string(),
                line: p.line,
                col: p.col,
            });
            println!("{}", actions::annotation(level, loc.as_ref(), f.kind.title(), &f.message));
        }
    }
}
