package dev.pgferry.coordinator.http;

import org.junit.jupiter.api.Test;

import java.net.BindException;
import java.net.InetAddress;
import java.net.ServerSocket;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

class HttpApiBindTest {
    @Test
    void aPortInUseIsNamedWithTheWayOut() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            int port = taken.getLocalPort();
            assertThatThrownBy(() -> new HttpApi(null, null, r -> r, "127.0.0.1", port, null))
                    .isInstanceOf(BindException.class)
                    .hasMessageStartingWith("cannot serve the HTTP API on 127.0.0.1:" + port + " (")
                    .hasMessageContaining("--http-port");
        }
    }
}
