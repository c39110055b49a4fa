struct Nothing {}
union NothingEither {}
exception NothingWrong {}
service Nobody {}
