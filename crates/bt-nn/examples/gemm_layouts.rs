//! Throughput of the dense layer's three gemms in both weight layouts (`[out, in]`, PyTorch's,
//! and `[in, out]`), for choosing the engine's layout. `cargo run --release -p bt-nn --example
//! gemm_layouts`.

use std::time::Instant;

use bt_nn::gemm_ops::{View, ViewMut, gemm};

fn time(label: &str, flops: f64, mut f: impl FnMut()) {
    for _ in 0..3 {
        f();
    }
    let n = 30;
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    let s = t.elapsed().as_secs_f64() / n as f64;
    println!("{label:<44} {:7.1} GFLOP/s", flops / s / 1e9);
}

fn main() {
    for (b, i, o) in [
        (64, 1024, 1024),
        (128, 1024, 1024),
        (64, 784, 1024),
        (128, 1024, 512),
    ] {
        println!("B={b} in={i} out={o}");
        let flops = 2.0 * (b * i * o) as f64;
        let x = vec![0.5f32; b * i];
        let dz = vec![0.25f32; b * o];
        let w = vec![0.1f32; i * o];
        let mut y = vec![0.0f32; b * o];
        let mut dx = vec![0.0f32; b * i];
        let mut gw = vec![0.0f32; i * o];
        time("fwd  W[out,in]: y = x·Wᵀ", flops, || {
            gemm(
                ViewMut::new(&mut y, b, o),
                View::new(&x, b, i),
                View::new(&w, o, i).t(),
                1.0,
            )
        });
        time("fwd  W[in,out]: y = x·W", flops, || {
            gemm(
                ViewMut::new(&mut y, b, o),
                View::new(&x, b, i),
                View::new(&w, i, o),
                1.0,
            )
        });
        time("dx   W[out,in]: dx = dz·W", flops, || {
            gemm(
                ViewMut::new(&mut dx, b, i),
                View::new(&dz, b, o),
                View::new(&w, o, i),
                0.0,
            )
        });
        time("dx   W[in,out]: dx = dz·Wᵀ", flops, || {
            gemm(
                ViewMut::new(&mut dx, b, i),
                View::new(&dz, b, o),
                View::new(&w, i, o).t(),
                0.0,
            )
        });
        time("dW   [out,in]: gw = 0.9gw + dzᵀ·x", flops, || {
            gemm(
                ViewMut::new(&mut gw, o, i),
                View::new(&dz, b, o).t(),
                View::new(&x, b, i),
                0.9,
            )
        });
        time("dW   [in,out]: gw = 0.9gw + xᵀ·dz", flops, || {
            gemm(
                ViewMut::new(&mut gw, i, o),
                View::new(&x, b, i).t(),
                View::new(&dz, b, o),
                0.9,
            )
        });
    }
}
