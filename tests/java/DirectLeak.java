/*
 * DirectLeak - a plain JDK direct-memory leak, no Netty, for
 * tests/integration/test_direct.py: ByteBuffer.allocateDirect(SIZE) kept in
 * a list every tick until the JDK refuses with OutOfMemoryError.
 *
 * usage: java -XX:MaxDirectMemorySize=64m ... DirectLeak [--size BYTES]
 *        [--per-tick N] [--tick-ms MS] [--max-seconds S]
 *
 * Output, one fact a line (T: wall-clock seconds since the epoch, from
 * Instant.now(), the clock memtrace's time_ns and Python's time.time() use):
 *   USED t=T used=<BufferPoolMXBean "direct" getMemoryUsed()>
 *        count=<its getCount()> why=<tick|change>
 *     every tick and right after every change, so between two consecutive
 *     USED lines the pool's count changed at most once.
 *   OOM t=T used=<...> error=<class>: <message>
 *   DONE t=T reason=<oom|time>
 */
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

public final class DirectLeak {
    private static BufferPoolMXBean pool;

    private static String now() {
        Instant i = Instant.now();
        return i.getEpochSecond() + "." + String.format("%09d", i.getNano());
    }

    private static void used(String why) {
        System.out.println("USED t=" + now() + " used=" + pool.getMemoryUsed() + " count="
                + pool.getCount() + " why=" + why);
        System.out.flush();
    }

    public static void main(String[] args) throws Exception {
        int size = 1 << 20, perTick = 1, tickMs = 250;
        double maxSeconds = 90;

        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--size") && i + 1 < args.length)
                size = Integer.parseInt(args[++i]);
            else if (args[i].equals("--per-tick") && i + 1 < args.length)
                perTick = Integer.parseInt(args[++i]);
            else if (args[i].equals("--tick-ms") && i + 1 < args.length)
                tickMs = Integer.parseInt(args[++i]);
            else if (args[i].equals("--max-seconds") && i + 1 < args.length)
                maxSeconds = Double.parseDouble(args[++i]);
            else {
                System.err.println("DirectLeak: unknown argument " + args[i]);
                System.exit(2);
            }
        }
        for (BufferPoolMXBean b : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class))
            if (b.getName().equals("direct"))
                pool = b;
        List<ByteBuffer> kept = new ArrayList<>();
        long start = System.nanoTime();

        used("tick");
        for (long tick = 1; ; tick++) {
            try {
                for (int i = 0; i < perTick; i++) {
                    ByteBuffer b = ByteBuffer.allocateDirect(size);
                    b.put(0, (byte) 1);
                    kept.add(b); /* never dropped: the leak */
                    used("change");
                }
            } catch (OutOfMemoryError e) {
                System.out.println("OOM t=" + now() + " used=" + pool.getMemoryUsed() + " error="
                        + e.getClass().getName() + ": " + e.getMessage());
                used("change");
                System.out.println("DONE t=" + now() + " reason=oom");
                System.out.flush();
                return;
            }
            if ((System.nanoTime() - start) / 1e9 >= maxSeconds) {
                System.out.println("DONE t=" + now() + " reason=time");
                System.out.flush();
                return;
            }
            long next = start + tick * tickMs * 1_000_000L;
            long sleep = (next - System.nanoTime()) / 1_000_000L;
            if (sleep > 0)
                Thread.sleep(sleep);
            used("tick");
        }
    }
}
