//! Our version order must be the order dpkg and rpm give our renderings.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::cmp::Ordering;
use std::process::Command;

use falco_artifacts_core::Version;
use falco_artifacts_testkit::require_tool;

/// Real-looking pairs: stable steps, prereleases, development builds, and the crossings
/// between them that a channel sees.
const PAIRS: &[(&str, &str)] = &[
    ("0.38.0", "0.39.0"),
    ("0.39.0", "0.39.1"),
    ("0.9.0", "0.10.0"),
    ("0.39.2", "0.40.0"),
    ("0.45.0-rc1", "0.45.0"),
    ("0.45.0-rc1", "0.45.0-rc2"),
    ("0.45.0-rc9", "0.45.0-rc10"),
    ("0.45.0-alpha1", "0.45.0-beta1"),
    ("0.45.0-beta2", "0.45.0-rc1"),
    ("0.45.0-alpha", "0.45.0-alpha1"),
    ("0.45.0-rc.1", "0.45.0-rc.2"),
    ("0.45.0-rc.2", "0.45.0-rc.10"),
    ("0.45.0-rc1", "0.45.0-rc1-hotfix"),
    ("0.45.0-36+1307474", "0.45.0-37+abcdef0"),
    ("0.45.0-9+1307474", "0.45.0-10+1307474"),
    ("0.45.0-99+aaaaaaa", "0.45.0-100+bbbbbbb"),
    ("0.45.0-0+abcdef0", "0.45.0-1+abcdef0"),
    ("0.40.0-1+abcdef0", "0.40.0-2+0000000"),
    ("0.44.0", "0.45.0-1+abcdef0"),
    ("0.45.0-rc1", "0.45.0-36+1307474"),
    ("0.45.0-200+1234567", "0.46.0-1+7654321"),
    ("0.45.0", "0.45.0-1+abcdef0"),
    ("0.45.0-36+1307474", "0.45.0"),
    ("0.44.3", "0.45.0-rc1"),
    ("1.0.0-rc1", "1.0.0"),
    ("0.99.0", "1.0.0-rc1"),
    ("0.41.0-1234+deadbee", "0.41.1"),
    ("0.41.0", "0.41.0-rc3"),
    ("2.0.0", "10.0.0"),
    ("0.37.0", "0.37.1"),
    ("0.45.0", "0.45.0"),
    ("0.45.0-36+1307474", "0.45.0-36+1307474"),
    ("0.45.0-rc1", "0.45.0-rc1"),
    ("0.43.1", "0.44.0-rc1"),
];

fn dpkg_order(a: &str, b: &str) -> Ordering {
    let holds = |op: &str| {
        Command::new("dpkg")
            .args(["--compare-versions", a, op, b])
            .status()
            .expect("run dpkg")
            .success()
    };
    if holds("lt") {
        Ordering::Less
    } else if holds("eq") {
        Ordering::Equal
    } else {
        Ordering::Greater
    }
}

fn rpm_order(a: &str, b: &str) -> Ordering {
    let out = Command::new("rpm")
        .arg("--eval")
        .arg(format!("%{{lua: print(rpm.vercmp(\"{a}\", \"{b}\"))}}"))
        .output()
        .expect("run rpm");
    assert!(
        out.status.success(),
        "rpm --eval failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    match String::from_utf8_lossy(&out.stdout).trim() {
        "-1" => Ordering::Less,
        "0" => Ordering::Equal,
        "1" => Ordering::Greater,
        other => panic!("rpm.vercmp printed {other:?}"),
    }
}

#[test]
fn deb_and_rpm_agree_with_our_order() {
    require_tool("dpkg", "dpkg").expect("dpkg is needed");
    require_tool("rpm", "rpm").expect("rpm is needed");
    assert!(PAIRS.len() >= 30);
    let mut disagreements = Vec::new();
    for (a, b) in PAIRS {
        let (va, vb): (Version, Version) = (a.parse().unwrap(), b.parse().unwrap());
        let ours = va.cmp(&vb);
        let dpkg = dpkg_order(&va.deb_version(), &vb.deb_version());
        let rpm = rpm_order(
            &format!("{}-{}", va.rpm_version(), va.rpm_release()),
            &format!("{}-{}", vb.rpm_version(), vb.rpm_release()),
        );
        if ours != dpkg || ours != rpm {
            disagreements.push(format!(
                "{a} vs {b}: ours {ours:?}, dpkg {dpkg:?} ({} vs {}), rpm {rpm:?} ({} vs {})",
                va.deb_version(),
                vb.deb_version(),
                va.rpm_version(),
                vb.rpm_version()
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[test]
fn sorting_a_dev_channel_matches_publication_order() {
    let mut versions: Vec<Version> = [
        "0.45.0-36+1307474",
        "0.44.0",
        "0.45.0-rc1",
        "0.45.0-2+abcdef0",
        "0.45.0-rc2",
        "0.44.1",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    versions.sort();
    let order: Vec<String> = versions.iter().map(ToString::to_string).collect();
    assert_eq!(
        order,
        [
            "0.44.0",
            "0.44.1",
            "0.45.0-rc1",
            "0.45.0-rc2",
            "0.45.0-2+abcdef0",
            "0.45.0-36+1307474"
        ]
    );
}
