package io.sparkprobe;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Calls that must work on both Scala 2.12 (Spark 3.5) and Scala 2.13 (Spark 4.x) from one jar.
 *
 * <p>Spark methods returning a {@code Seq} are declared {@code scala.collection.Seq} under 2.12 and
 * {@code scala.collection.immutable.Seq} under 2.13; a direct call compiled against one fails with
 * NoSuchMethodError on the other. So they are looked up by name (cached {@link Method}) and the
 * result is walked through {@code scala.collection.Iterable#iterator()}, whose descriptor is the same
 * in both (in 2.12 it is inherited from {@code IterableLike}, which interface resolution finds).
 * {@code scala.Option#isDefined()/get()} and {@code scala.Tuple2#_1()/_2()} are also identical.
 */
final class ScalaCompat {
    private ScalaCompat() {
    }

    /** {@code name()} of {@code cls}, or null when it is absent in this Spark version. */
    static Method method(Class<?> cls, String name, Class<?>... params) {
        try {
            return cls.getMethod(name, params);
        } catch (Throwable t) {
            return null;
        }
    }

    /** Invokes a Seq-returning method and copies the elements; empty when the method is missing. */
    static List<Object> seq(Method m, Object target, Object... args) throws Exception {
        if (m == null || target == null) {
            return Collections.emptyList();
        }
        return toList(m.invoke(target, args));
    }

    /** Copies any Scala iterable (Seq, Map as (key, value) Tuple2s) into a Java list. */
    static List<Object> toList(Object scalaIterable) {
        if (scalaIterable == null) {
            return Collections.emptyList();
        }
        scala.collection.Iterator<?> it = ((scala.collection.Iterable<?>) scalaIterable).iterator();
        List<Object> out = new ArrayList<Object>();
        while (it.hasNext()) {
            out.add(it.next());
        }
        return out;
    }

    /** The value of a defined Option, else {@code dflt}. */
    static Object opt(scala.Option<?> o, Object dflt) {
        return o != null && o.isDefined() ? o.get() : dflt;
    }

    static String optString(scala.Option<?> o) {
        Object v = opt(o, "");
        return v == null ? "" : v.toString();
    }

    static long optLong(scala.Option<?> o) {
        Object v = opt(o, null);
        return v instanceof Number ? ((Number) v).longValue() : 0L;
    }
}
