//! A throwaway PostgreSQL cluster with password (SCRAM) authentication, for what the machine's
//! shared trust-auth server cannot show: a refused password (SQLSTATE 28P01), and a server
//! stopped and started again under load. Made with `initdb` in a
//! temporary directory (as the `postgres` user when the tests run as root), listening on a free
//! port of 127.0.0.1; stopped and removed on drop.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;

/// A running cluster; its superuser is `postgres` with [`PasswordCluster::SUPERUSER_PASSWORD`].
#[derive(Debug)]
pub struct PasswordCluster {
    dir: PathBuf,
    bindir: PathBuf,
    /// The port on 127.0.0.1.
    pub port: u16,
}

fn postgres_bindir() -> anyhow::Result<PathBuf> {
    let output = Command::new("pg_config").arg("--bindir").output();
    if let Ok(output) = output
        && output.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .context("no PostgreSQL server binaries (initdb) found")?
        .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
        .filter(|dir| dir.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .context("no initdb under /usr/lib/postgresql")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

/// `program` run as the `postgres` user when we are root (initdb and postgres refuse root).
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(mut command: Command, what: &str) -> anyhow::Result<()> {
    let output = command.stdin(Stdio::null()).output()?;
    anyhow::ensure!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

impl PasswordCluster {
    /// Password of the `postgres` superuser.
    pub const SUPERUSER_PASSWORD: &'static str = "cluster-admin";

    /// Creates and starts a cluster (a few seconds).
    ///
    /// # Errors
    /// When initdb or pg_ctl fail.
    pub fn start() -> anyhow::Result<Self> {
        let bindir = postgres_bindir()?;
        let dir =
            std::env::temp_dir().join(format!("pstest-cluster-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        if is_root() {
            run(
                {
                    let mut command = Command::new("chown");
                    command.arg("postgres").arg(&dir);
                    command
                },
                "chown",
            )?;
        }
        let port = crate::stack::free_port()?;
        let cluster = Self { dir, bindir, port };
        let pwfile = cluster.dir.join("pwfile");
        std::fs::write(&pwfile, Self::SUPERUSER_PASSWORD)?;
        let mut initdb = as_postgres(&cluster.bindir.join("initdb"));
        initdb
            .arg("-D")
            .arg(cluster.dir.join("data"))
            .args(["-U", "postgres", "--auth=scram-sha-256", "--no-sync"])
            .arg(format!("--pwfile={}", pwfile.display()));
        run(initdb, "initdb")?;
        let mut start = as_postgres(&cluster.bindir.join("pg_ctl"));
        start
            .arg("-D")
            .arg(cluster.dir.join("data"))
            .arg("-l")
            .arg(cluster.dir.join("server.log"))
            .arg("-o")
            .arg(format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                cluster.dir.display()
            ))
            .args(["-w", "start"]);
        run(start, "pg_ctl start")?;
        Ok(cluster)
    }

    /// URL of database `name` as `user` with `password`.
    pub fn url(&self, user: &str, password: &str, name: &str) -> String {
        format!(
            "postgres://{user}:{password}@127.0.0.1:{}/{name}",
            self.port
        )
    }

    /// The superuser's URL of the `postgres` database.
    pub fn admin_url(&self) -> String {
        self.url("postgres", Self::SUPERUSER_PASSWORD, "postgres")
    }

    /// `pg_ctl stop -m fast`: open sessions are ended (SQLSTATE 57P01) and the server exits.
    ///
    /// # Errors
    /// When pg_ctl fails.
    pub fn stop_fast(&self) -> anyhow::Result<()> {
        let mut stop = as_postgres(&self.bindir.join("pg_ctl"));
        stop.arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "fast", "-w", "stop"]);
        run(stop, "pg_ctl stop")
    }

    /// Starts the stopped server again with the options it had (`postmaster.opts`).
    ///
    /// # Errors
    /// When pg_ctl fails.
    pub fn start_again(&self) -> anyhow::Result<()> {
        let mut start = as_postgres(&self.bindir.join("pg_ctl"));
        start
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "restart"]);
        run(start, "pg_ctl restart")
    }
}

impl Drop for PasswordCluster {
    fn drop(&mut self) {
        let mut stop = as_postgres(&self.bindir.join("pg_ctl"));
        stop.arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = stop.status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
