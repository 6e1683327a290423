import java.io.File;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/*
 * usage: NamedLeak GOFILE DONEFILE PER_THREAD [NAME...]
 * Starts one thread per NAME (default "leak-worker-pool-1" and
 * "leak-worker-pool-2": the kernel keeps 15 bytes of a thread's name, so
 * both read "leak-worker-poo" there).  Prints "READY", then each thread
 * waits for GOFILE, allocates PER_THREAD direct ByteBuffers of 16 MiB
 * (each a malloc, a 16 MiB + 4 KiB mmap under a pinned mmap threshold),
 * touches and keeps them, and prints "HELD <name> <count>".  Exits once
 * DONEFILE exists.
 */
public class NamedLeak {
    static final int MB16 = 16 << 20;

    static void waitFor(File f) throws InterruptedException {
        while (!f.exists())
            Thread.sleep(20);
    }

    public static void main(String[] args) throws Exception {
        File go = new File(args[0]), done = new File(args[1]);
        int per = Integer.parseInt(args[2]);
        String[] names = args.length > 3
            ? java.util.Arrays.copyOfRange(args, 3, args.length)
            : new String[] {"leak-worker-pool-1", "leak-worker-pool-2"};
        List<Thread> threads = new ArrayList<>();
        for (String name : names) {
            Thread t = new Thread(() -> {
                List<ByteBuffer> kept = new ArrayList<>();
                try {
                    waitFor(go);
                    for (int i = 0; i < per; i++) {
                        ByteBuffer b = ByteBuffer.allocateDirect(MB16);
                        for (int k = 0; k < MB16; k += 4096)
                            b.put(k, (byte) 1);
                        kept.add(b);
                    }
                    synchronized (NamedLeak.class) {
                        System.out.println("HELD " + Thread.currentThread().getName() + " "
                                           + kept.size());
                        System.out.flush();
                    }
                    waitFor(done);
                } catch (InterruptedException e) {
                    return;
                }
                kept.clear();
            }, name);
            t.start();
            threads.add(t);
        }
        System.out.println("READY");
        System.out.flush();
        for (Thread t : threads)
            t.join();
    }
}
