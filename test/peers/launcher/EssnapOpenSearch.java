import java.util.concurrent.CountDownLatch;

import org.codelibs.opensearch.runner.OpenSearchRunner;

/**
 * Starts the codelibs OpenSearch runner with the node roles a managed domain
 * has: the runner's own main gives its node only [cluster_manager, data], and
 * its explicit setting overrides opensearch.yml, so ingest pipelines (which
 * migrate-metadata carries) could never run. Roles come from -Dessnap.roles;
 * every argument goes to the runner as with its own main.
 */
public final class EssnapOpenSearch {
    public static void main(String[] args) throws Exception {
        String[] roles = System.getProperty("essnap.roles", "cluster_manager,data,ingest").split(",");
        OpenSearchRunner runner = new OpenSearchRunner();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                runner.close();
            } catch (Exception e) {
                System.err.println("close: " + e);
            }
        }));
        runner.onBuild((index, settings) -> settings.putList("node.roles", roles));
        runner.build(args);
        new CountDownLatch(1).await();
    }
}
