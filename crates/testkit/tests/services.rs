//! Starts every service for real, uses it the way a test elsewhere would, drops it and checks
//! that nothing is left running. A missing tool fails the test with the package to install.

use std::fs;
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::thread;
use std::time::Duration;

use falco_artifacts_testkit::{
    Azurite, DockerEngine, FakeGcs, GpgHome, HttpServer, MotoS3, Registry, TestkitError,
};

fn get(url: &str, authorization: Option<&str>) -> (u16, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut request = agent.get(url);
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    let response = request.call().expect("HTTP request failed");
    let status = response.status().as_u16();
    (
        status,
        response
            .into_body()
            .read_to_vec()
            .expect("reading the body failed"),
    )
}

/// Whether `pid` is a live, non-zombie process.
fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

fn assert_stopped(pid: u32, port: u16) {
    assert!(!alive(pid), "process {pid} still running after drop");
    TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .unwrap_or_else(|err| panic!("port {port} still taken after drop: {err}"));
}

fn started<T>(result: Result<T, TestkitError>) -> T {
    result.unwrap_or_else(|err| panic!("{err}"))
}

#[test]
fn moto_s3_honours_conditional_creates_and_round_trips_objects() {
    let s3 = started(MotoS3::start());
    let (pid, port) = (s3.pid(), s3.port());
    assert_eq!(s3.endpoint(), format!("http://127.0.0.1:{port}"));
    assert_eq!(
        (s3.access_key(), s3.secret_key(), s3.region()),
        ("testing", "testing", "us-east-1")
    );
    s3.create_bucket("testkit-roundtrip").unwrap();
    let body: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    s3.put_object("testkit-roundtrip", "dir/falco 1.0.tgz", &body)
        .unwrap();
    assert_eq!(
        s3.get_object("testkit-roundtrip", "dir/falco 1.0.tgz")
            .unwrap(),
        Some(body)
    );
    assert_eq!(s3.get_object("testkit-roundtrip", "absent").unwrap(), None);
    drop(s3);
    assert_stopped(pid, port);
}

/// Start-up already proved `If-None-Match: *` and `If-Match` (the self-check).
#[test]
fn azurite_serves_public_containers_and_stops() {
    let azurite = started(Azurite::start());
    let (pid, port) = (azurite.pid(), azurite.port());
    assert_eq!(
        azurite.endpoint(),
        format!("http://127.0.0.1:{port}/devstoreaccount1")
    );
    azurite.create_public_container("testkit-public").unwrap();
    azurite.create_container("testkit-private").unwrap();
    assert_eq!(
        azurite.get_public_blob("testkit-public", "absent").unwrap(),
        None
    );
    drop(azurite);
    assert_stopped(pid, port);
}

#[test]
fn fake_gcs_round_trips_objects_and_stops() {
    let gcs = started(FakeGcs::start());
    let (pid, port) = (gcs.pid(), gcs.port());
    assert_eq!(gcs.endpoint(), format!("http://127.0.0.1:{port}"));
    gcs.create_bucket("testkit-roundtrip").unwrap();
    let body: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    assert_eq!(
        gcs.upload("testkit-roundtrip", "dir/falco 1.0.tgz", &body, false)
            .unwrap(),
        200
    );
    assert_eq!(
        gcs.get_object("testkit-roundtrip", "dir/falco 1.0.tgz")
            .unwrap(),
        Some(body)
    );
    assert_eq!(gcs.get_object("testkit-roundtrip", "absent").unwrap(), None);
    drop(gcs);
    assert_stopped(pid, port);
}

#[test]
fn docker_engines_answer_and_run_side_by_side() {
    // Two at once proves the data roots, exec roots and managed containerds do not clash.
    let (first, second) = thread::scope(|scope| {
        let a = scope.spawn(DockerEngine::start);
        let b = scope.spawn(DockerEngine::start);
        (a.join().unwrap(), b.join().unwrap())
    });
    let engines = [started(first), started(second)];
    assert_ne!(engines[0].socket_path(), engines[1].socket_path());
    let mut stopped = Vec::new();
    for engine in engines {
        let ping = engine.get("/_ping").unwrap();
        assert_eq!((ping.status, ping.body.as_slice()), (200, &b"OK"[..]));
        let version = engine.get("/version").unwrap();
        assert_eq!(version.status, 200);
        let json = String::from_utf8(version.body).unwrap();
        assert!(json.contains("\"ApiVersion\""), "{json}");
        assert_eq!(
            engine.docker_host(),
            format!("unix://{}", engine.socket_path().display())
        );
        let info = engine
            .cli()
            .unwrap()
            .args(["info", "--format", "{{.DockerRootDir}}"])
            .output()
            .unwrap();
        assert!(info.status.success(), "{info:?}");
        let root = String::from_utf8(info.stdout).unwrap();
        assert!(root.trim().starts_with("/tmp/tk-docker-"), "{root}");
        stopped.push((
            engine.pid().unwrap(),
            engine.containerd_pid().unwrap(),
            engine.socket_path(),
        ));
    }
    for (dockerd, containerd, socket) in stopped {
        assert!(!alive(dockerd), "dockerd {dockerd} still running");
        assert!(!alive(containerd), "containerd {containerd} still running");
        assert!(!socket.exists(), "{} left behind", socket.display());
    }
}

#[test]
fn registry_without_auth_serves_the_catalog() {
    let registry = started(Registry::start());
    let (pid, port) = (registry.pid(), registry.port());
    assert_eq!(registry.address(), format!("127.0.0.1:{port}"));
    assert_eq!(registry.credentials(), None);
    let (status, body) = get(&format!("{}/v2/_catalog", registry.url()), None);
    assert_eq!(status, 200);
    assert_eq!(
        String::from_utf8(body).unwrap().trim(),
        r#"{"repositories":[]}"#
    );
    drop(registry);
    assert_stopped(pid, port);
}

#[test]
fn registry_with_auth_requires_the_credentials() {
    let registry = started(Registry::start_with_auth("falco", "s3cret:with colon"));
    let (pid, port) = (registry.pid(), registry.port());
    let catalog = format!("{}/v2/_catalog", registry.url());
    assert_eq!(get(&catalog, None).0, 401);
    let wrong = "Basic ZmFsY286d3Jvbmc="; // falco:wrong
    assert_eq!(get(&catalog, Some(wrong)).0, 401);
    let authorization = registry.authorization().unwrap();
    assert_eq!(get(&catalog, Some(&authorization)).0, 200);
    drop(registry);
    assert_stopped(pid, port);
}

#[test]
fn http_server_serves_file_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = (0..=255u8).collect();
    fs::create_dir(dir.path().join("pool")).unwrap();
    fs::write(dir.path().join("pool/falco.deb"), &bytes).unwrap();
    let server = started(HttpServer::serve(dir.path()));
    let (pid, port) = (server.pid(), server.port());
    assert_eq!(server.url(), format!("http://127.0.0.1:{port}"));
    assert_eq!(
        get(&format!("{}/pool/falco.deb", server.url()), None),
        (200, bytes)
    );
    assert_eq!(get(&format!("{}/missing", server.url()), None).0, 404);
    drop(server);
    assert_stopped(pid, port);
    assert!(dir.path().join("pool/falco.deb").exists());
}

#[test]
fn gpg_verifies_real_signatures_and_rejects_tampering() {
    let signer = started(GpgHome::new());
    let fingerprint = signer
        .generate_key("Testkit <testkit@example.invalid>", "ed25519")
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("falco.tar.gz");
    let signature = work.path().join("falco.tar.gz.asc");
    let cleartext = work.path().join("Release");
    let inrelease = work.path().join("InRelease");
    fs::write(&data, b"release bytes").unwrap();
    fs::write(&cleartext, "Origin: falcosecurity\nSuite: stable\n").unwrap();
    signer
        .sign_detached(&fingerprint, &data, &signature)
        .unwrap();
    signer
        .sign_cleartext(&fingerprint, &cleartext, &inrelease)
        .unwrap();

    let verifier = started(GpgHome::new());
    let home = verifier.path().to_path_buf();
    let mode = fs::metadata(&home).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o700
    );
    // Before the key is imported, verification fails with gpg's explanation.
    let err = verifier.verify_detached(&signature, &data).unwrap_err();
    assert!(matches!(err, TestkitError::Gpg { .. }), "{err}");
    verifier
        .import_key(&signer.export_public_key(&fingerprint).unwrap())
        .unwrap();

    let ok = verifier.verify_detached(&signature, &data).unwrap();
    assert!(ok.good, "{}", ok.status);
    assert_eq!(ok.fingerprint.as_deref(), Some(fingerprint.as_str()));
    assert_eq!(
        ok.primary_fingerprint.as_deref(),
        Some(fingerprint.as_str())
    );
    assert_eq!(ok.digest_algo, Some(8), "{}", ok.status);
    let clear = verifier.verify_cleartext(&inrelease).unwrap();
    assert!(clear.good, "{}", clear.status);
    assert_eq!(clear.fingerprint.as_deref(), Some(fingerprint.as_str()));

    fs::write(&data, b"release bytes, tampered").unwrap();
    match verifier.verify_detached(&signature, &data) {
        Err(TestkitError::Gpg { stderr, .. }) => {
            assert!(stderr.contains("BAD signature"), "{stderr}")
        }
        other => panic!("tampered data verified: {other:?}"),
    }
    let tampered = fs::read_to_string(&inrelease)
        .unwrap()
        .replace("stable", "testing");
    fs::write(&inrelease, tampered).unwrap();
    assert!(verifier.verify_cleartext(&inrelease).is_err());

    drop(verifier);
    drop(signer);
    assert!(!Path::new(&home).exists());
}
