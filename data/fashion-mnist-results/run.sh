#!/bin/bash
export DOTNET_GCHeapHardLimit=0x300000000
mkdir -p results
for n in 1000 2000 5000 10000; do
  /usr/bin/time -v dotnet src/NtkDsl.Samples/bin/Release/net10.0/NtkDsl.Samples.dll classify --train-sizes $n --epochs 20 --out results/n$n > results/n$n.log 2> results/n$n.time
done

