package io.sparkprobe;

import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;

/**
 * TLS to the agent ({@code spark.sparkprobe.tls.*}, read in {@link ProbeConfig}). Sender thread only: loading
 * the trust material reads files and the handshake waits on the network, neither may run on Spark's bus.
 *
 * <p>The client trusts the CAs of {@code tls.caCert} (PEM) and {@code tls.trustStore} (PKCS12/JKS), or the
 * JVM's default trust store when neither is set; verifies that the agent's certificate names the endpoint's
 * host ({@code SSLParameters.setEndpointIdentificationAlgorithm("HTTPS")}: DNS names, and IP addresses
 * against IP subject alternative names); and speaks TLS 1.3 or 1.2 only.
 */
final class Tls {
    private static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};

    private final ProbeConfig cfg;
    private SSLSocketFactory factory; // built at the first connection attempt that needs it

    Tls(ProbeConfig cfg) {
        this.cfg = cfg;
    }

    /** A TLS setup or handshake failure; the message says why in words a Spark user can act on. */
    static final class Failure extends IOException {
        private static final long serialVersionUID = 1L;

        Failure(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * Layers TLS over the connected {@code raw} socket and completes the handshake, bounded by the socket's
     * read timeout. Closing the returned socket closes {@code raw}; closing {@code raw} (as {@code close()}
     * does from another thread) never waits on the TLS layer's locks.
     */
    SSLSocket handshake(Socket raw) throws Failure {
        return handshake(raw, cfg.host, cfg.port);
    }

    /**
     * The same for one entry of the endpoint list: {@code host} is the name the agent's certificate must
     * carry (the entry's host as configured, never the address it resolved to).
     */
    SSLSocket handshake(Socket raw, String host, int port) throws Failure {
        SSLSocketFactory f = factory;
        if (f == null) {
            try {
                f = build();
            } catch (GeneralSecurityException | IOException | RuntimeException e) {
                throw new Failure("cannot set up TLS: " + reason(e) + " (check " + ProbeConfig.TLS_CA_CERT + ", "
                        + ProbeConfig.TLS_TRUST_STORE + " and its password and type)", e);
            }
            factory = f; // built once; after a failure the files are read again at the next attempt
        }
        SSLSocket ssl;
        try {
            ssl = (SSLSocket) f.createSocket(raw, host, port, true);
            SSLParameters params = ssl.getSSLParameters();
            params.setEndpointIdentificationAlgorithm("HTTPS");
            params.setProtocols(protocols(ssl.getSupportedProtocols()));
            ssl.setSSLParameters(params);
        } catch (IOException | RuntimeException e) {
            throw new Failure("cannot set up TLS: " + reason(e), e);
        }
        try {
            ssl.startHandshake();
            return ssl;
        } catch (SocketTimeoutException e) {
            throw new Failure("no TLS answer within " + cfg.connectTimeoutMs + " ms (does the agent run with "
                    + "--tls-cert? A plain-TCP agent waits for a hello line instead)", e);
        } catch (SSLException e) {
            throw new Failure("TLS handshake failed: " + reason(e) + hint(e), e);
        } catch (IOException e) {
            throw new Failure("TLS handshake failed: " + reason(e), e);
        }
    }

    private SSLSocketFactory build() throws GeneralSecurityException, IOException {
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        if (cfg.tlsCaCert.isEmpty() && cfg.tlsTrustStore.isEmpty()) {
            tmf.init((KeyStore) null); // the JVM's default trust store
        } else {
            String type = cfg.tlsTrustStoreType.isEmpty() ? KeyStore.getDefaultType() : cfg.tlsTrustStoreType;
            KeyStore trusted = KeyStore.getInstance(type);
            if (cfg.tlsTrustStore.isEmpty()) {
                trusted.load(null, null);
            } else {
                char[] password = cfg.tlsTrustStorePassword == null ? null : cfg.tlsTrustStorePassword.toCharArray();
                try (InputStream in = new FileInputStream(cfg.tlsTrustStore)) {
                    trusted.load(in, password);
                } catch (IOException e) {
                    throw new IOException(ProbeConfig.TLS_TRUST_STORE + " " + cfg.tlsTrustStore + ": " + reason(e), e);
                } finally {
                    if (password != null) {
                        Arrays.fill(password, '\0');
                    }
                }
            }
            if (!cfg.tlsCaCert.isEmpty()) {
                int n = 0;
                try (InputStream in = new FileInputStream(cfg.tlsCaCert)) {
                    for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                        trusted.setCertificateEntry("sparkprobe-ca-" + n++, c);
                    }
                } catch (IOException | GeneralSecurityException e) {
                    throw new IOException(ProbeConfig.TLS_CA_CERT + " " + cfg.tlsCaCert + ": " + reason(e), e);
                }
                if (n == 0) {
                    throw new IOException(ProbeConfig.TLS_CA_CERT + " " + cfg.tlsCaCert + " holds no PEM certificate");
                }
            }
            tmf.init(trusted);
        }
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx.getSocketFactory();
    }

    private static String[] protocols(String[] supported) throws SSLException {
        List<String> out = new ArrayList<String>();
        List<String> have = Arrays.asList(supported);
        for (String p : PROTOCOLS) {
            if (have.contains(p)) {
                out.add(p);
            }
        }
        if (out.isEmpty()) {
            throw new SSLException("this JVM supports neither TLS 1.3 nor TLS 1.2");
        }
        return out.toArray(new String[0]);
    }

    /** The innermost message: "PKIX path building failed: ..." says less than its cause. */
    static String reason(Throwable e) {
        Throwable t = e;
        String msg = null;
        while (t != null) {
            if (t.getMessage() != null && !t.getMessage().isEmpty()) {
                msg = t.getMessage();
            }
            if (t.getCause() == t) {
                break;
            }
            t = t.getCause();
        }
        return msg == null ? e.getClass().getSimpleName() : msg;
    }

    private static String hint(Throwable e) {
        String all = e.toString() + " " + reason(e);
        if (all.contains("PKIX") || all.contains("certification path")) {
            return " (the agent's certificate is not signed by a CA in " + ProbeConfig.TLS_CA_CERT + " / "
                    + ProbeConfig.TLS_TRUST_STORE + ")";
        }
        if (all.contains("subject alternative") || all.contains("No name matching")) {
            return " (the agent's certificate does not name the host of " + ProbeConfig.ENDPOINT + ")";
        }
        if (all.contains("Unsupported or unrecognized SSL message") || all.contains("plaintext")) {
            return " (the agent answered in plain text: start it with --tls-cert/--tls-key)";
        }
        return "";
    }
}
