//! The server's configuration file for a run: a free port, the store and the fast test hash.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;

use crate::seed;

pub fn free_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn toml_str(s: &str) -> String {
    // A JSON string is a valid TOML basic string for everything we write here.
    serde_json::Value::from(s).to_string()
}

pub fn write_config(
    path: &Path,
    addr: SocketAddr,
    data_dir: &Path,
    database_url: Option<&str>,
    log_level: &str,
    read_cache_entries: Option<usize>,
    hash_share_percent: Option<u8>,
) -> anyhow::Result<()> {
    let p = seed::ARGON2;
    let mut cache = read_cache_entries
        .map(|n| format!("\n[core.read_cache]\nentries = {n}\n"))
        .unwrap_or_default();
    if let Some(n) = hash_share_percent {
        cache.push_str(&format!("\n[core.passwords]\nhash_share_percent = {n}\n"));
    }
    let db = database_url
        .map(|u| format!("database_url = {}\n", toml_str(u)))
        .unwrap_or_default();
    let text = format!(
        "# Written by portcullis-bench.\n\
         [server]\n\
         listen = \"{addr}\"\n\
         data_dir = {data_dir}\n\
         {db}\n\
         [log]\n\
         format = \"json\"\n\
         level = {level}\n\n\
         [core]\n\
         public_url = \"http://{addr}\"\n\n\
         [core.passwords.argon2]\n\
         memory_kib = {m}\n\
         iterations = {t}\n\
         parallelism = {par}\n\n\
         # All load comes from 127.0.0.1: lift the per-client-IP limit on credential endpoints\n\
         # (default 20/s, burst 50), or every login and key exchange past the burst is refused.\n\
         [core.rate_limit]\n\
         per_ip_per_sec = 1000000000\n\
         burst = 1000000000\n\
         {cache}",
        data_dir = toml_str(&data_dir.display().to_string()),
        level = toml_str(log_level),
        m = p.memory_kib,
        t = p.iterations,
        par = p.parallelism,
    );
    std::fs::write(path, text)?;
    Ok(())
}
