/*
 * NettyLeak - a Netty 4.1 program that leaks pooled direct buffers until
 * Netty refuses with io.netty.util.internal.OutOfDirectMemoryError, for
 * tests/integration/test_netty.py.  Compiled at test time against Debian's
 * libnetty-java (netty-buffer, netty-common, netty-transport).
 *
 * usage: java ... NettyLeak probe
 *        java ... NettyLeak leak [--messages] [--max-seconds N] [--buffers-per-tick N]
 *                                [--max-order-in-code N] [--early-message] [--go-file FILE]
 *        java ... NettyLeak loops N FILE
 *
 * Output, one fact a line (T is wall-clock seconds since the epoch with
 * nanosecond digits, from Instant.now(), i.e. CLOCK_REALTIME, the clock
 * memtrace's time_ns and Python's time.time() use):
 *   LIMIT max=<PlatformDependent.maxDirectMemory()> nocleaner=<true|false>
 *         chunk=<pool chunk size> heapmax=<Runtime.maxMemory()>
 *   USED t=T used=<PlatformDependent.usedDirectMemory()> leaked=<buffers>
 *        msg=<1 while a large message is held> why=<tick|change>
 *        pool=<BufferPoolMXBean "direct" getMemoryUsed(): the JDK's own count,
 *              the one that counts when Netty cannot use its no-cleaner
 *              buffers (JDK 25), where used is -1>
 *     every ~100 ms (why=tick) and right after every change of the counter
 *     (why=change), so between two consecutive USED lines the counter
 *     changed at most once.
 *   MSG t=T event=<alloc|free> n=<message number>
 *   OOM t=T used=<counter> in=<leak|message> error=<class>: <message>
 *   DONE t=T reason=<oom|time>
 * "probe" prints LIMIT and exits.
 *
 * "loops" starts a real NioEventLoopGroup of N event loops; each takes one
 * pooled direct buffer of a whole chunk (so each maps a chunk of its own,
 * the loops being bound to different arenas) and prints
 *   LOOP name=<its thread name>
 * then the program prints READY and waits until FILE exists (at most 60 s).
 *
 * --max-order-in-code N sets io.netty.allocator.maxOrder with
 * System.setProperty before PooledByteBufAllocator is loaded, as a service
 * that configures its allocator in code does: no flag shows it.
 *
 * --early-message: before leaking, one large message (a pooled buffer of a
 * whole chunk, so a chunk of its own) is allocated and released at once,
 * which frees that chunk: glibc munmap()s it and, unpinned, raises its mmap
 * threshold past the chunk size.  --go-file FILE: then the program prints
 *   READY t=T
 * and waits until FILE exists (at most 60 s) before leaking, so that a
 * tracer can attach after the early free (the "glibc trap").
 *
 * The leak: one thread, named like a Netty event loop
 * ("nioEventLoopGroup-2-1"), allocates 64 KiB pooled direct buffers from
 * PooledByteBufAllocator.DEFAULT each tick and never releases them (a
 * forgotten release()).  A 16 MiB chunk holds 256 of them, so the pool maps
 * a new chunk every 256 / buffers-per-tick ticks.  With --messages, about
 * every 0.7 s it also handles a "large message": a pooled buffer of a whole
 * chunk (16 MiB, the largest normal size class, so the pool maps a new chunk
 * just for it), held for ~250 ms and released, which frees that chunk again:
 * glibc munmap()s it and, unless the mmap threshold is pinned, raises its
 * threshold so that later 16 MiB mallocs come from a heap arena instead.
 */
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.internal.PlatformDependent;

import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;

import java.io.File;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

public final class NettyLeak {
    private static final int TICK_MS = 100;
    private static final int BUFFER = 64 * 1024;

    private static long lastPrinted = Long.MIN_VALUE;
    private static int leakedCount;
    private static boolean holding;
    private static BufferPoolMXBean pool;
    private static boolean earlyMessage;
    private static File goFile;

    private static String now() {
        Instant i = Instant.now();
        return i.getEpochSecond() + "." + String.format("%09d", i.getNano());
    }

    private static void used(String why) {
        long u = PlatformDependent.usedDirectMemory();
        lastPrinted = u;
        System.out.println("USED t=" + now() + " used=" + u + " leaked=" + leakedCount
                + " msg=" + (holding ? 1 : 0) + " why=" + why
                + " pool=" + (pool != null ? pool.getMemoryUsed() : -1));
        System.out.flush();
    }

    /* Print a USED line when the counter moved since the last one. */
    private static long lastPool = Long.MIN_VALUE;

    private static void changed() {
        long p = pool != null ? pool.getMemoryUsed() : -1;

        if (PlatformDependent.usedDirectMemory() != lastPrinted || p != lastPool) {
            lastPool = p;
            used("change");
        }
    }

    private static void limit() {
        System.out.println("LIMIT max=" + PlatformDependent.maxDirectMemory()
                + " nocleaner=" + PlatformDependent.useDirectBufferNoCleaner()
                + " chunk=" + PooledByteBufAllocator.DEFAULT.metric().chunkSize()
                + " heapmax=" + Runtime.getRuntime().maxMemory());
        System.out.flush();
    }

    public static void main(String[] args) throws Exception {
        boolean messages = false;
        double maxSeconds = 50;
        int perTick = 21;

        if (args.length == 3 && args[0].equals("loops")) {
            loops(Integer.parseInt(args[1]), new File(args[2]));
            return;
        }
        if (args.length < 1 || !(args[0].equals("probe") || args[0].equals("leak"))) {
            System.err.println("usage: NettyLeak probe | leak [--messages] [--max-seconds N]"
                    + " [--buffers-per-tick N] | loops N FILE");
            System.exit(2);
        }
        for (int i = 1; i < args.length; i++) {
            if (args[i].equals("--messages"))
                messages = true;
            else if (args[i].equals("--max-seconds") && i + 1 < args.length)
                maxSeconds = Double.parseDouble(args[++i]);
            else if (args[i].equals("--buffers-per-tick") && i + 1 < args.length)
                perTick = Integer.parseInt(args[++i]);
            else if (args[i].equals("--max-order-in-code") && i + 1 < args.length)
                System.setProperty("io.netty.allocator.maxOrder", args[++i]);
            else if (args[i].equals("--early-message"))
                earlyMessage = true;
            else if (args[i].equals("--go-file") && i + 1 < args.length)
                goFile = new File(args[++i]);
            else {
                System.err.println("NettyLeak: unknown argument " + args[i]);
                System.exit(2);
            }
        }
        for (BufferPoolMXBean b : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class))
            if (b.getName().equals("direct"))
                pool = b;
        limit();
        if (args[0].equals("probe"))
            return;

        final boolean withMessages = messages;
        final double seconds = maxSeconds;
        final int buffersPerTick = perTick;
        final Throwable[] failure = new Throwable[1];
        Thread loop = new Thread(() -> {
            try {
                run(withMessages, seconds, buffersPerTick);
            } catch (Throwable t) {
                failure[0] = t;
            }
        }, "nioEventLoopGroup-2-1");
        loop.start();
        loop.join();
        if (failure[0] != null) {
            failure[0].printStackTrace();
            System.exit(1);
        }
    }

    /* N real event loops, each holding a chunk-sized pooled buffer, until FILE exists. */
    private static void loops(int n, File until) throws Exception {
        NioEventLoopGroup group = new NioEventLoopGroup(n);
        PooledByteBufAllocator alloc = PooledByteBufAllocator.DEFAULT;
        int chunk = alloc.metric().chunkSize();
        List<ByteBuf> held = new ArrayList<>();

        for (EventExecutor loop : group) {
            held.add(loop.submit(() -> {
                System.out.println("LOOP name=" + Thread.currentThread().getName());
                return alloc.directBuffer(chunk, chunk);
            }).get());
        }
        System.out.println("READY");
        System.out.flush();
        for (int i = 0; i < 6000 && !until.exists(); i++)
            Thread.sleep(10);
        for (ByteBuf b : held)
            b.release();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    /* The leak: PER buffers copied from PAYLOAD and kept, never released. */
    private static void retainLeakedCopies(PooledByteBufAllocator alloc, List<ByteBuf> leaked,
            byte[] payload, int per) {
        for (int i = 0; i < per; i++) {
            ByteBuf b = alloc.directBuffer(BUFFER, BUFFER);
            b.writeBytes(payload, 0, 1024);
            leaked.add(b); /* never released: the leak */
            leakedCount++;
            changed();
        }
    }

    private static void run(boolean messages, double maxSeconds, int perTick) throws Exception {
        PooledByteBufAllocator alloc = PooledByteBufAllocator.DEFAULT;
        int chunk = alloc.metric().chunkSize();

        if (earlyMessage) {
            ByteBuf m = alloc.directBuffer(chunk, chunk);
            m.setByte(0, 1);
            m.setByte(chunk - 1, 1);
            System.out.println("MSG t=" + now() + " event=alloc n=0");
            changed();
            m.release();
            System.out.println("MSG t=" + now() + " event=free n=0");
            changed();
        }
        if (goFile != null) {
            System.out.println("READY t=" + now());
            System.out.flush();
            for (int i = 0; i < 6000 && !goFile.exists(); i++)
                Thread.sleep(10);
        }
        List<ByteBuf> leaked = new ArrayList<>();
        long start = System.nanoTime();
        long nextMessage = start + 700_000_000L, releaseAt = 0;
        ByteBuf message = null;
        int nmessages = 0;
        byte[] payload = new byte[BUFFER];

        used("tick");
        for (long tick = 1; ; tick++) {
            String in = "leak";
            try {
                retainLeakedCopies(alloc, leaked, payload, perTick);
                long t = System.nanoTime();
                if (message != null && t >= releaseAt) {
                    message.release();
                    message = null;
                    holding = false;
                    System.out.println("MSG t=" + now() + " event=free n=" + nmessages);
                    changed();
                }
                if (messages && message == null && t >= nextMessage) {
                    in = "message";
                    message = alloc.directBuffer(chunk, chunk);
                    /* Touch both ends, as reading a message into it would. */
                    message.setByte(0, 1);
                    message.setByte(chunk - 1, 1);
                    holding = true;
                    nmessages++;
                    System.out.println("MSG t=" + now() + " event=alloc n=" + nmessages);
                    changed();
                    releaseAt = t + 250_000_000L;
                    nextMessage = t + 700_000_000L;
                }
            } catch (OutOfMemoryError e) {
                System.out.println("OOM t=" + now() + " used=" + PlatformDependent.usedDirectMemory()
                        + " in=" + in + " error=" + e.getClass().getName() + ": " + e.getMessage());
                used("change");
                System.out.println("DONE t=" + now() + " reason=oom");
                System.out.flush();
                return;
            }
            if ((System.nanoTime() - start) / 1e9 >= maxSeconds) {
                used("tick");
                System.out.println("DONE t=" + now() + " reason=time");
                System.out.flush();
                return;
            }
            long next = start + tick * TICK_MS * 1_000_000L;
            long sleep = (next - System.nanoTime()) / 1_000_000L;
            if (sleep > 0)
                Thread.sleep(sleep);
            used("tick");
        }
    }
}
