package io.sparkprobe;

import java.lang.reflect.Method;

/**
 * Spark Connect's listener events, which arrive through {@code onOtherEvent}: matched by class name
 * and read by reflection, so that the jar has no link to Spark Connect's classes (absent on Spark
 * 3.5 and on a driver that runs no Connect server). Read as Spark writes them to the event log
 * (docs/event-mapping.md): {@code SparkListenerConnectSessionStarted} and {@code ...Closed}
 * (SessionEventsManager.scala: {@code sessionId}, {@code userId}, {@code eventTime}; never
 * {@code extraTags}) and {@code SparkListenerConnectServiceStarted} (SparkConnectService.scala: only
 * {@code eventTime}, not the address or port). Every other event class maps to {@link #OTHER}, found
 * with one {@link ClassValue} lookup and no allocation: SQL events come this way too, many per query.
 */
final class Connect {
    private Connect() {
    }

    private static final String PACKAGE = "org.apache.spark.sql.connect.service.";

    /** How to read one event class; {@link #OTHER} for every class that is not Connect's. */
    static final class Reader {
        /** session_started, session_closed or connect_server_started; null for other events. */
        final String kind;
        final Method sessionId;
        final Method userId;
        final Method eventTime;

        Reader(String kind, Method sessionId, Method userId, Method eventTime) {
            this.kind = kind;
            this.sessionId = sessionId;
            this.userId = userId;
            this.eventTime = eventTime;
        }

        /** True for a session event (session_started, session_closed). */
        boolean session() {
            return sessionId != null;
        }

        String sessionId(Object e) throws Exception {
            return str(sessionId.invoke(e));
        }

        /** The event's line: {@code {"k":kind,"session_id":..,"user":..,"time":..}} or {@code {"k":kind,"time":..}}. */
        byte[] line(Object e) throws Exception {
            long time = ((Number) eventTime.invoke(e)).longValue();
            JsonLine j = new JsonLine(128).raw("{\"k\":\"").raw(kind).raw("\"");
            if (session()) {
                j.raw(",\"session_id\":").str(sessionId(e)).raw(",\"user\":").str(str(userId.invoke(e)));
            }
            return j.raw(",\"time\":").num(time).end();
        }
    }

    static final Reader OTHER = new Reader(null, null, null, null);

    private static final ClassValue<Reader> READERS = new ClassValue<Reader>() {
        @Override
        protected Reader computeValue(Class<?> c) {
            String name = c.getName();
            if (!name.startsWith(PACKAGE)) {
                return OTHER;
            }
            String simple = name.substring(PACKAGE.length());
            try {
                if ("SparkListenerConnectSessionStarted".equals(simple)) {
                    return session(c, "session_started");
                }
                if ("SparkListenerConnectSessionClosed".equals(simple)) {
                    return session(c, "session_closed");
                }
                if ("SparkListenerConnectServiceStarted".equals(simple)) {
                    return new Reader("connect_server_started", null, null, c.getMethod("eventTime"));
                }
            } catch (NoSuchMethodException e) {
                return OTHER; // a Spark whose Connect events look different: not read
            }
            return OTHER;
        }
    };

    private static Reader session(Class<?> c, String kind) throws NoSuchMethodException {
        return new Reader(kind, c.getMethod("sessionId"), c.getMethod("userId"), c.getMethod("eventTime"));
    }

    /** The reader of {@code event}'s class ({@link #OTHER} unless it is one of Connect's three). */
    static Reader of(Object event) {
        return READERS.get(event.getClass());
    }

    private static String str(Object o) {
        return o == null ? "" : o.toString();
    }
}
