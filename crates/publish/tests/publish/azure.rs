//! The proofs on Azure Blob Storage that are not a row of a table elsewhere: Azurite on
//! loopback (path-style, the development account), a container anyone may read.

use falco_artifacts_publish::RepoStore;
use falco_artifacts_testkit::Azurite;

use crate::bin::publish_and_use;
use crate::common::{azure_options, azure_store};
use crate::concurrency::{apt_reader, race, APT};

/// How often a waiting publisher looks at the lock: each look is two requests to one Node
/// process on a 2-core machine.
const AZURE_POLL: std::time::Duration = std::time::Duration::from_millis(100);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tarballs_on_azure_are_downloaded_and_verified_from_the_container() {
    let azurite = Azurite::start().unwrap();
    let store = azure_store(&azurite, "falco-downloads");
    publish_and_use(store, &format!("{}/falco-downloads", azurite.endpoint())).await;
}

/// Proof item (a) of issue 16 for APT on Azure, read by real `apt-get` from the public
/// container.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn apt_readers_never_fail_while_eight_publishers_add_prune_and_race_on_azure() {
    let azurite = Azurite::start().unwrap();
    let container = "falco-apt-race";
    azure_store(&azurite, container);
    let options = azure_options(&azurite);
    let reader = apt_reader(&format!(
        "{}/{container}/packages/deb-dev",
        azurite.endpoint()
    ));
    let store = || RepoStore::from_url_with(&format!("az://{container}"), &options).unwrap();
    let measured = race(&APT, store, AZURE_POLL, vec![reader]).await;
    measured.print("apt on azure");
}
