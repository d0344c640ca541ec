//! The secrets audit: sentinel secrets (a signing key, its passphrase, an S3 secret key, a
//! registry password, a token) are put where a release reads them, the release example is run
//! through the paths that fail and the one that succeeds, and every byte it prints, every
//! report and log it writes, and the `Debug` output of the types that hold configuration or
//! credentials are searched for them.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::path::Path;

use falco_artifacts::core::{ChildEnv, KeyAlgorithm, PgpSigner, Signer};
use falco_artifacts::images::{CredentialStore, Credentials, RegistryAddr, RegistryClient};
use falco_artifacts::publish::StoreOptions;
use falco_artifacts::release::PipelineConfig;

mod common;
use common::run_with;

const PASSPHRASE: &str = "sentinel-passphrase-b5e1";
const S3_SECRET: &str = "sentinel-s3-secret-Zq8v";
const AZURE_SECRET: &str = "sentinel-azure-account-key-Wp3k";
const PASSWORD: &str = "sentinel-registry-password-3c9d";
const TOKEN: &str = "sentinel-token-71fe";
/// Body text of a broken armored key: a loader that quotes what it could not read leaks it.
const KEY_MATERIAL: &str = "SENTINELKEYMATERIALxY29mZmVl";

/// Every file under `dir`, read as text.
fn texts_under(dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            texts_under(&path, out);
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((
                path.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
}

fn assert_clean(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "{what} shows a secret ({secret}):\n{text}"
        );
    }
}

#[test]
fn no_secret_reaches_an_error_a_report_a_log_or_debug_output() {
    let dir = tempfile::tempdir().unwrap();
    let key = PgpSigner::generate("Audit <audit@example.com>", KeyAlgorithm::Ed25519).unwrap();
    let armored = key.secret_key_armored().unwrap();
    // The real key's own material: a line of its armored body.
    let key_line = armored
        .lines()
        .find(|l| l.len() > 40 && !l.starts_with("-----"))
        .unwrap()
        .to_owned();
    let broken_key = format!(
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{KEY_MATERIAL}\n-----END PGP PRIVATE KEY BLOCK-----\n"
    );
    let secrets = [
        PASSPHRASE,
        S3_SECRET,
        AZURE_SECRET,
        PASSWORD,
        TOKEN,
        KEY_MATERIAL,
        key_line.as_str(),
    ];
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/sample/falco.yaml")
        .display()
        .to_string();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let repo_url = format!("file://{}", repo.display());
    let work = dir.path().join("work");
    let work_arg = work.display().to_string();
    let env = [
        ("FALCO_AUDIT_KEY", armored.as_str()),
        ("FALCO_AUDIT_BROKEN_KEY", broken_key.as_str()),
        ("FALCO_AUDIT_PASSPHRASE", PASSPHRASE),
        ("AWS_ACCESS_KEY_ID", "AKIAAUDIT"),
        ("AWS_SECRET_ACCESS_KEY", S3_SECRET),
        ("AZURE_STORAGE_ACCOUNT_KEY", AZURE_SECRET),
        ("REGISTRY_PASSWORD", PASSWORD),
        ("REGISTRY_TOKEN", TOKEN),
        ("SOURCE_DATE_EPOCH", "1700000000"),
    ];
    let s3_config = dir.path().join("s3.yaml");
    std::fs::write(
        &s3_config,
        "repository: s3://falco-audit/\nstore:\n  endpoint: http://127.0.0.1:9\n  allow_http: true\n  \
         path_style: true\nsigning:\n  key_env: FALCO_AUDIT_KEY\n  passphrase_env: FALCO_AUDIT_PASSPHRASE\n",
    )
    .unwrap();
    let s3_config = s3_config.display().to_string();
    let base = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "run",
            "--tag",
            "0.45.0",
            "--manifest",
            &manifest,
            "--work-dir",
            &work_arg,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let runs: Vec<(&str, Vec<String>, bool)> = vec![
        (
            "a key that does not load",
            base(&[
                "--repo",
                &repo_url,
                "--key-env",
                "FALCO_AUDIT_BROKEN_KEY",
                "--gate-command",
                "true",
            ]),
            false,
        ),
        (
            "a gate that prints its environment and fails",
            base(&[
                "--repo",
                &repo_url,
                "--key-env",
                "FALCO_AUDIT_KEY",
                "--gate-command",
                "sh -c env;false",
            ]),
            false,
        ),
        (
            "an S3 repository that does not answer",
            base(&["--config", &s3_config, "--gate-command", "true"]),
            false,
        ),
        (
            "evidence for another commit",
            base(&[
                "--repo",
                &repo_url,
                "--key-env",
                "FALCO_AUDIT_KEY",
                "--evidence",
                "/nonexistent/evidence.json",
                "--commit",
                "abcdef0",
            ]),
            false,
        ),
        (
            "a release that succeeds, with a gate printing its environment",
            base(&[
                "--repo",
                &repo_url,
                "--key-env",
                "FALCO_AUDIT_KEY",
                "--gate-command",
                "sh -c env",
                "--json",
            ]),
            true,
        ),
    ];
    for (what, args, should_pass) in &runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_with(&args, &env);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.success(), *should_pass, "{what}: {text}");
        assert_clean(what, &text, &secrets);
    }
    // Reports, gate logs and everything else the runs wrote, and the repository itself.
    let mut files = Vec::new();
    texts_under(&work, &mut files);
    texts_under(&repo, &mut files);
    assert!(
        files.iter().any(|(p, _)| p.ends_with("gate.log")),
        "{files:?}"
    );
    for (path, text) in &files {
        assert_clean(path, text, &secrets);
    }

    // Debug output of the types that hold configuration and credentials.
    let config_file = dir.path().join("release.yaml");
    std::fs::write(
        &config_file,
        "repository: file:///srv/falco\nsigning:\n  key_env: FALCO_AUDIT_KEY\n  passphrase_env: FALCO_AUDIT_PASSPHRASE\n\
         pass_env: [REGISTRY_TOKEN]\nimages:\n  name: falcosecurity/falco\n  registry: registry.example.com\n",
    )
    .unwrap();
    let config = PipelineConfig::load(&config_file).unwrap();
    std::env::set_var("FALCO_AUDIT_KEY", &armored);
    std::env::set_var("FALCO_AUDIT_PASSPHRASE", PASSPHRASE);
    let signer = config.signer();
    let registry: RegistryAddr = "127.0.0.1:5000".parse().unwrap();
    let credentials = Credentials::new("ci", PASSWORD);
    let store = CredentialStore::new().with(&registry, credentials.clone());
    let client =
        RegistryClient::new(registry.clone(), Some(Credentials::new("ci", TOKEN))).unwrap();
    std::env::set_var("FALCO_AUDIT_REGISTRY_PASSWORD", PASSWORD);
    let missing_user = CredentialStore::new().with_env(
        &registry,
        "FALCO_AUDIT_NO_SUCH_USER",
        "FALCO_AUDIT_REGISTRY_PASSWORD",
    );
    let options = StoreOptions {
        access_key_id: Some("AKIAAUDIT".into()),
        secret_access_key: Some(S3_SECRET.into()),
        ..StoreOptions::default()
    };
    let env = ChildEnv::default().with_pass_env("REGISTRY_TOKEN").unwrap();
    let shown = [
        format!("{config:?}"),
        format!("{signer:?}"),
        format!("{key:?}"),
        format!("{credentials:?}"),
        format!("{store:?}"),
        format!("{client:?}"),
        format!("{missing_user:?}"),
        missing_user
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default(),
        format!("{options:?}"),
        format!("{env:?}"),
        format!("{:?}", key.public_key_armored().unwrap()),
    ];
    for text in &shown {
        assert_clean("Debug output", text, &secrets);
    }
}
