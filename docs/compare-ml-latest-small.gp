# Streaming versus batch ALS, written by `recflow compare`. Render: gnuplot THIS_FILE
# (from the folder recflow ran in: the paths below are as it was given them)
set datafile separator ','
set key top right box opaque
set grid ytics lc rgb '#dddddd'
set xlabel 'training ratings streamed'
set ylabel 'validation RMSE (lower is better)'
set format x '%.0s%c'
set offsets 0, 0, graph 0.05, graph 0.05
set title "ml-latest-small: streaming vs batch ALS (80669 training / 20167 validation ratings, split 0.8, seed 42)\nstreaming (rank 10, batches of 1000): 0.8682 after 81 batches;  batch ALS (rank 30, 15 iterations): 0.8380"
batch_rmse = 0.838003
set terminal svg size 960,600 dynamic font 'Helvetica,14' background '#ffffff' noenhanced
set output 'docs/compare-ml-latest-small.svg'
plot 'docs/compare-ml-latest-small.csv' using 2:3 skip 1 with points pt 7 ps 0.6 lc rgb '#6baed6' title 'streaming: RMSE after each batch', \
     '' using 2:4 skip 1 with lines lw 3 lc rgb '#08519c' title "streaming trend (centered mean of 9 batches)", \
     '' using 2:5 skip 1 with lines lw 2 dt 2 lc rgb '#d62728' title sprintf('batch ALS on all training ratings: %.4f', batch_rmse)
unset output
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
set terminal pngcairo size 1280,800 font 'Sans,14' noenhanced
set output 'docs/compare-ml-latest-small.png'
plot 'docs/compare-ml-latest-small.csv' using 2:3 skip 1 with points pt 7 ps 0.6 lc rgb '#6baed6' title 'streaming: RMSE after each batch', \
     '' using 2:4 skip 1 with lines lw 3 lc rgb '#08519c' title "streaming trend (centered mean of 9 batches)", \
     '' using 2:5 skip 1 with lines lw 2 dt 2 lc rgb '#d62728' title sprintf('batch ALS on all training ratings: %.4f', batch_rmse)
unset output
}
