using NtkDsl.Samples;

return TourProgram.Run(args);
