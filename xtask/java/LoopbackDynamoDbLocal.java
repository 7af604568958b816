// Starts DynamoDB Local listening on 127.0.0.1 only.
//
// DynamoDB Local has no flag for the listen address: its launcher builds a
// Jetty server on a port, which binds every interface. This launcher builds the
// same server from the same command-line arguments, then pins each of its
// network connectors to the loopback address before starting it. xtask compiles
// it once into `.local/` against the pinned DynamoDBLocal.jar.

import java.lang.reflect.Field;
import org.eclipse.jetty.server.AbstractNetworkConnector;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public final class LoopbackDynamoDbLocal {
    private static final String LOOPBACK = "127.0.0.1";

    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        // The Jetty server is a private field of the proxy; there is no accessor.
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server jetty = (Server) field.get(proxy);
        int pinned = 0;
        for (Connector connector : jetty.getConnectors()) {
            if (connector instanceof AbstractNetworkConnector) {
                ((AbstractNetworkConnector) connector).setHost(LOOPBACK);
                pinned++;
            }
        }
        if (pinned == 0) {
            throw new IllegalStateException("DynamoDB Local has no network connector to pin to " + LOOPBACK);
        }
        proxy.start();
        System.out.println("DynamoDB Local listening on " + LOOPBACK + " (" + pinned + " connector(s))");
        proxy.join();
    }
}
