#!/bin/bash
export DOTNET_GCHeapHardLimit=0x300000000
mkdir -p results
for n in 1000 2000 5000 10000; do
  /usr/bin/time -v dotnet src/NtkDsl.Samples/bin/Release/net10.0/NtkDsl.Samples.dll classify --train-sizes $n --epochs 20 --linalg torch --out results/n$n > results/n$n.log 2> results/n$n.time
done

# The full training set takes the tiled path (K(X, X) as one triangle of tiles, 14.6 GB: above the 12 GiB heap limit); NTK only.
env -u DOTNET_GCHeapHardLimit /usr/bin/time -v dotnet src/NtkDsl.Samples/bin/Release/net10.0/NtkDsl.Samples.dll classify --train-sizes 60000 --kernels ntk --out results/n60000 > results/n60000.log 2> results/n60000.time
