import java.util.concurrent.CountDownLatch;

import org.codelibs.elasticsearch.runner.ElasticsearchClusterRunner;

/**
 * Starts the codelibs Elasticsearch runner with the node roles a managed
 * domain has (master, data, ingest): the runner's own main leaves out ingest
 * and its explicit setting overrides elasticsearch.yml. Roles come from
 * -Dessnap.roles; every argument goes to the runner as with its own main.
 */
public final class EssnapElasticsearch {
    public static void main(String[] args) throws Exception {
        String[] roles = System.getProperty("essnap.roles", "master,data,ingest").split(",");
        ElasticsearchClusterRunner runner = new ElasticsearchClusterRunner();
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
