#!/usr/bin/env escript
%%! -pa /tmp/beam
%% Runs a program compiled by erlc into /tmp/beam: `escript run.escript <module> <args...>`
%% calls <module>:main(Args) with the program's arguments as strings; an uncaught error ends
%% the run with a non-zero status, halt(N) with N.
main([Module | Args]) ->
    (list_to_atom(Module)):main(Args).
